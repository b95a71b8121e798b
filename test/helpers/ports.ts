// A TCP port on loopback that was free a moment ago, for programs that must be told their port
// (Postfix, Exim, smtp-sink). Another process may take it before they bind: harnesses that start
// such programs retry on a bind error.
import { createServer } from 'node:net';

export async function freePort(address = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, resolve);
  });
  const a = server.address();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  if (a === null || typeof a === 'string') throw new Error('no port');
  return a.port;
}
