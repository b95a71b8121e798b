// A receiving SMTP server for tests: answers 250 to every transaction and records the envelope
// and the full message. In-process (not Postfix's smtp-sink) so assertions read structured
// envelopes directly and can wait on an event instead of polling dump files.
import { createServer, type Server, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';

export interface SinkMessage {
  /** Reverse path without angle brackets (`` for the null sender). */
  readonly from: string;
  readonly to: readonly string[];
  /** The message as received, CRLF line ends, dot-unstuffed, without the final `.` line. */
  readonly data: string;
  readonly helo: string;
  /** 1-based number of the SMTP connection that carried the message. */
  readonly connection: number;
}

export interface Sink {
  readonly port: number;
  readonly messages: readonly SinkMessage[];
  /** Resolves once `n` messages in total have arrived; rejects after `timeoutMs` (a failure bound only). */
  waitForMessages(n: number, timeoutMs?: number): Promise<readonly SinkMessage[]>;
  /** Resolves with the first message (already received or future) that matches. */
  waitForMessage(match: (m: SinkMessage) => boolean, timeoutMs?: number): Promise<SinkMessage>;
  close(): Promise<void>;
}

const DEFAULT_WAIT_MS = 20_000;
const HOSTNAME = 'sink.test';

export interface SinkOptions {
  /** A fixed port, e.g. to come up where a queued message is waiting to go; default: a free one. */
  readonly port?: number;
}

export async function startSink(options: SinkOptions = {}): Promise<Sink> {
  const messages: SinkMessage[] = [];
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  let connections = 0;

  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, connections, (m) => {
      messages.push(m);
      events.emit('message', m);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('sink: no TCP address');
  const port = address.port;

  function waitForMessage(match: (m: SinkMessage) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<SinkMessage> {
    const found = messages.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const onMessage = (m: SinkMessage): void => {
        if (!match(m)) return;
        clearTimeout(timer);
        events.off('message', onMessage);
        resolve(m);
      };
      const timer = setTimeout(() => {
        events.off('message', onMessage);
        reject(new Error(`sink :${port}: no matching message within ${timeoutMs} ms; got ${describe(messages)}`));
      }, timeoutMs);
      events.on('message', onMessage);
    });
  }

  async function waitForMessages(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<readonly SinkMessage[]> {
    let seen = 0;
    await waitForMessage(() => ++seen >= n, timeoutMs).catch((err: unknown) => {
      throw new Error(`sink :${port}: wanted ${n} messages`, { cause: err });
    });
    return messages;
  }

  return {
    port,
    messages,
    waitForMessage,
    waitForMessages,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

function describe(messages: readonly SinkMessage[]): string {
  if (messages.length === 0) return 'none';
  return messages.map((m) => `<${m.from}> -> ${m.to.map((t) => `<${t}>`).join(',')}`).join('; ');
}

/** One SMTP conversation. Commands are handled strictly in order, so pipelined input is fine. */
function serveConnection(socket: Socket, connection: number, deliver: (m: SinkMessage) => void): void {
  let buffered = '';
  let inData = false;
  let helo = '';
  let from: string | undefined;
  let to: string[] = [];
  let dataLines: string[] = [];

  const reply = (text: string): void => {
    if (socket.writable) socket.write(`${text}\r\n`);
  };
  const reset = (): void => {
    from = undefined;
    to = [];
    dataLines = [];
  };

  const onLine = (line: string): void => {
    if (inData) {
      if (line === '.') {
        inData = false;
        deliver({ from: from ?? '', to, data: dataLines.map((l) => `${l}\r\n`).join(''), helo, connection });
        reset();
        reply('250 2.0.0 Ok: queued');
        return;
      }
      dataLines.push(line.startsWith('.') ? line.slice(1) : line);
      return;
    }
    const answer = onCommand(line);
    reply(answer);
    if (answer.startsWith('221')) socket.end();
  };

  /** Handles one command line and returns the reply text. */
  const onCommand = (line: string): string => {
    const verb = line.slice(0, 4).toUpperCase();
    const arg = line.slice(4).trim();
    switch (verb) {
      case 'EHLO':
        helo = arg;
        reset();
        return `250-${HOSTNAME}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8`;
      case 'HELO':
        helo = arg;
        reset();
        return `250 ${HOSTNAME}`;
      case 'MAIL': {
        const path = pathArgument(arg, 'FROM:');
        if (path === undefined) return '501 5.5.4 Syntax: MAIL FROM:<address>';
        reset();
        from = path;
        return '250 2.1.0 Ok';
      }
      case 'RCPT': {
        const path = pathArgument(arg, 'TO:');
        if (from === undefined) return '503 5.5.1 Error: need MAIL command';
        if (path === undefined) return '501 5.5.4 Syntax: RCPT TO:<address>';
        to.push(path);
        return '250 2.1.5 Ok';
      }
      case 'DATA':
        if (to.length === 0) return '554 5.5.1 Error: no valid recipients';
        inData = true;
        return '354 End data with <CR><LF>.<CR><LF>';
      case 'RSET':
        reset();
        return '250 2.0.0 Ok';
      case 'NOOP':
        return '250 2.0.0 Ok';
      case 'QUIT':
        return '221 2.0.0 Bye';
      default:
        return '502 5.5.2 Error: command not recognized';
    }
  };

  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const line = buffered.slice(0, nl).replace(/\r$/, '');
      buffered = buffered.slice(nl + 1);
      onLine(line);
      nl = buffered.indexOf('\n');
    }
  });
  socket.on('error', () => {
    // The peer went away; nothing to record.
  });
  reply(`220 ${HOSTNAME} ESMTP test sink`);
}

/** `FROM:<a@b> SIZE=1` -> `a@b`; tolerates a space after the colon. */
function pathArgument(arg: string, keyword: string): string | undefined {
  if (!arg.toUpperCase().startsWith(keyword)) return undefined;
  const rest = arg.slice(keyword.length).trimStart();
  const match = /^<([^>]*)>/.exec(rest);
  if (match !== null) return match[1] ?? '';
  const bare = rest.split(' ')[0];
  return bare === undefined || bare === '' ? undefined : bare;
}
