// The TCP port of a listener spec the daemon reports (`inet:127.0.0.1:40123`).
export function listenPort(spec: string | undefined): number {
  const port = Number(/:(\d+)$/.exec(spec ?? '')?.[1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`not a TCP listener: ${String(spec)}`);
  return port;
}
