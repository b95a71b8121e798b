// Worker side of netns.ts: answers RPC calls from the test process over the IPC channel.
// `ready` and `close` are built in; `close` runs the registered clean-ups (in reverse order), then
// the worker exits. Losing the channel (the test process died) also cleans up and exits.

export type RpcHandler = (...args: never[]) => unknown;

export function serveRpc(handlers: Readonly<Record<string, RpcHandler>>, cleanups: (() => Promise<void> | void)[]): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('netns worker: no IPC channel (start it with startNetnsWorker)');
  let closing = false;
  const cleanUp = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    for (const c of [...cleanups].reverse()) {
      try {
        await c();
      } catch (err) {
        process.stderr.write(`clean-up failed: ${String(err)}\n`);
      }
    }
  };
  process.on('message', (raw: unknown) => {
    const { id, method, args } = raw as { id: number; method: string; args: unknown[] };
    void (async () => {
      try {
        let value: unknown;
        if (method === 'ready') value = true;
        else if (method === 'close') await cleanUp();
        else {
          const handler = handlers[method];
          if (handler === undefined) throw new Error(`no such worker method: ${method}`);
          value = await (handler as (...a: unknown[]) => unknown)(...args);
        }
        send({ id, ok: true, value });
        if (method === 'close') process.disconnect();
      } catch (err) {
        send({ id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    })();
  });
  process.on('disconnect', () => {
    void cleanUp().then(() => process.exit(0));
  });
}
