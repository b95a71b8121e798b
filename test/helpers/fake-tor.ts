// A stand-in for Tor's SocksPort (with the ExtendedErrors flag) on 127.0.0.1, for tests.
//
//   const tor = await startFakeTor({ routes: { [`${onion}:25`]: { host: '127.0.0.1', port: sink.port } } });
//   tor.port                       // the SOCKS5 port (TorPort for torsocks, tor.socks for our config)
//   startFakeTor({ port })         // a fixed port: a SocksPort coming back after a restart
//   tor.route(`${onion}:25`, { host: '127.0.0.1', port })    // add or replace a route at run time
//   tor.setReply(`${onion}:25`, { kind: 'fail', rep: 0xf2 }) // or key by host alone: tor.setReply(onion, ...)
//   tor.requests                   // every SOCKS request, in arrival order (see SocksRequest)
//   tor.connects(`${onion}:25`)    // how many CONNECTs named that destination
//   await tor.waitForRequests(n)   // resolves once n requests have arrived (event driven)
//   await tor.close()              // destroys every open client and upstream socket (Tor stopped)
//   await startFakeTor({ ...options, port: tor.port })   // and started again where clients expect it
//
// What it speaks (as Tor does, see the reference on Tor's SOCKS behaviour):
// - SOCKS5 only. Method negotiation selects USERNAME/PASSWORD (0x02) whenever the client offers it
//   (Tor's default without PreferSOCKSNoAuth), else NO AUTH (0x00); no acceptable method -> 0xFF.
//   RFC 1929 sub-negotiation accepts any username and password, empty ones included (as Tor does),
//   and records them on the request, so tests can check per-destination isolation labels.
//   `auth: 'no-auth-only'` never selects 0x02; `auth: 'require-password'` refuses clients without it.
// - CONNECT with ATYP 3 (host name), 1 (IPv4) and 4 (IPv6). Destination key: `<host>:<port>`,
//   host lower-cased (IPv6 without brackets).
// - RESOLVE (Tor's command 0xF0) when `resolve` maps the name to an IPv4 address; `.onion` names are
//   refused with 0x01 like Tor ("Resolve requests to hidden services not allowed"), unknown names 0x04.
//   Other commands (BIND, UDP ASSOCIATE, RESOLVE_PTR) get 0x07.
// - Replies in Tor's shape: `05 REP 00 01 00000000 0000`.
//
// What it answers, per request (the first matching rule wins):
//   1. the reply set with setReply()/`replies` for `<host>:<port>`, then for `<host>`;
//   2. the `behaviour` callback, if given, when it returns a reply;
//   3. a route for `<host>:<port>` -> { kind: 'route' } (connect upstream and pipe both ways; an
//      upstream that refuses the connection gives 0x05, any other upstream error 0x01);
//   4. otherwise `defaultReply` (default: 0xF0 "descriptor not found" for .onion, 0x04 for others).
// Reply kinds: 'route' (as 3, if there is a route, else as 4), 'fail' with a REP byte (the classic
// 0x01-0x08 or Tor's 0xF0-0xF7, any byte really), 'hang' (never reply, keep the socket open),
// 'close' (close the connection without a reply), 'slow' (wait `delayMs`, then answer `then`, which
// defaults to 'route'), 'garbage' (write the given bytes as the reply and close).
// `connectDelayMs` holds every CONNECT that long before any of that is decided: the onion service
// rendezvous a new stream pays (benchmarks; 0 by default). `clientsOpen` counts SOCKS clients
// still connected (a pool's idle sessions, a client's cached connections).
import { createServer, connect as tcpConnect, isIPv4, type Server, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';

export interface RouteTarget {
  readonly host: string;
  readonly port: number;
}

export type FakeTorReply =
  | { readonly kind: 'route' }
  | { readonly kind: 'fail'; readonly rep: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'close' }
  | { readonly kind: 'slow'; readonly delayMs: number; readonly then?: FakeTorReply }
  | { readonly kind: 'garbage'; readonly bytes: Uint8Array };

export interface SocksRequest {
  /** 1-based number of the client's TCP connection. */
  readonly connection: number;
  readonly command: 'connect' | 'resolve' | 'other';
  readonly commandByte: number;
  /** 1 (IPv4), 3 (host name) or 4 (IPv6), as sent. */
  readonly atyp: number;
  /** Lower-cased host name or address as sent. */
  readonly host: string;
  readonly port: number;
  /** `<host>:<port>`. */
  readonly destination: string;
  /** The method the server selected: 0x00 or 0x02. */
  readonly method: number;
  /** Methods the client offered. */
  readonly offeredMethods: readonly number[];
  /** RFC 1929 credentials, undefined when the method was NO AUTH. */
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** The REP byte sent back, or undefined for hang/close or while pending. */
  rep: number | undefined;
}

export interface FakeTorOptions {
  /** A fixed port, e.g. to come back where a stopped one was; default: a free one. */
  readonly port?: number;
  readonly routes?: Readonly<Record<string, RouteTarget>>;
  readonly replies?: Readonly<Record<string, FakeTorReply>>;
  readonly behaviour?: (request: SocksRequest) => FakeTorReply | undefined;
  readonly defaultReply?: FakeTorReply;
  /** Names answered by RESOLVE (0xF0): name -> IPv4 address. */
  readonly resolve?: Readonly<Record<string, string>>;
  readonly auth?: 'tor' | 'no-auth-only' | 'require-password';
  /** Every CONNECT waits this long before it is answered (a rendezvous); default 0. */
  readonly connectDelayMs?: number;
}

export interface FakeTor {
  readonly address: '127.0.0.1';
  readonly port: number;
  readonly requests: readonly SocksRequest[];
  /** Usernames of all requests, in order (undefined for NO AUTH requests). */
  readonly usernames: readonly (string | undefined)[];
  /** TCP connections accepted so far. */
  readonly connectionCount: number;
  /** Client connections not closed yet. */
  readonly clientsOpen: number;
  route(destination: string, target: RouteTarget): void;
  setReply(key: string, reply: FakeTorReply | undefined): void;
  connects(destination: string): number;
  waitForRequests(n: number, timeoutMs?: number): Promise<readonly SocksRequest[]>;
  close(): Promise<void>;
}

const TOR_REPLY_TAIL = [0x00, 0x01, 0, 0, 0, 0, 0, 0];
const REP = { succeeded: 0x00, failure: 0x01, hostUnreachable: 0x04, refused: 0x05, commandNotSupported: 0x07, descriptorNotFound: 0xf0 } as const;

export async function startFakeTor(options: FakeTorOptions = {}): Promise<FakeTor> {
  const routes = new Map<string, RouteTarget>(Object.entries(options.routes ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const replies = new Map<string, FakeTorReply>(Object.entries(options.replies ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const resolveTable = new Map<string, string>(Object.entries(options.resolve ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const authMode = options.auth ?? 'tor';
  const requests: SocksRequest[] = [];
  const events = new EventEmitter();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let connectionCount = 0;
  let clientsOpen = 0;

  const chooseReply = (request: SocksRequest): FakeTorReply => {
    const explicit = replies.get(request.destination) ?? replies.get(request.host);
    if (explicit !== undefined) return explicit;
    const fromBehaviour = options.behaviour?.(request);
    if (fromBehaviour !== undefined) return fromBehaviour;
    if (routes.has(request.destination)) return { kind: 'route' };
    return defaultFor(request);
  };
  const defaultFor = (request: SocksRequest): FakeTorReply =>
    options.defaultReply ?? { kind: 'fail', rep: request.host.endsWith('.onion') ? REP.descriptorNotFound : REP.hostUnreachable };

  const server: Server = createServer((client) => {
    connectionCount += 1;
    const connection = connectionCount;
    sockets.add(client);
    clientsOpen += 1;
    client.on('close', () => {
      sockets.delete(client);
      clientsOpen -= 1;
    });
    client.on('error', () => {
      // The client went away; nothing to record.
    });
    let buffer = Buffer.alloc(0);
    let stage: 'greeting' | 'auth' | 'request' | 'answered' = 'greeting';
    let method = 0;
    let offered: number[] = [];
    let username: string | undefined;
    let password: string | undefined;

    const sendReply = (request: SocksRequest, rep: number, address: readonly number[] = [0, 0, 0, 0]): void => {
      request.rep = rep;
      if (!client.destroyed) client.write(Buffer.from([0x05, rep, 0x00, 0x01, ...address, 0, 0]));
    };
    const fail = (request: SocksRequest, rep: number): void => {
      sendReply(request, rep);
      client.end();
    };

    const answer = (request: SocksRequest, reply: FakeTorReply): void => {
      switch (reply.kind) {
        case 'fail':
          fail(request, reply.rep);
          return;
        case 'hang':
          return;
        case 'close':
          client.destroy();
          return;
        case 'garbage':
          if (!client.destroyed) client.end(Buffer.from(reply.bytes));
          return;
        case 'slow': {
          const timer = setTimeout(() => {
            timers.delete(timer);
            if (!client.destroyed) answer(request, reply.then ?? { kind: 'route' });
          }, reply.delayMs);
          timers.add(timer);
          return;
        }
        case 'route': {
          const target = routes.get(request.destination);
          if (target === undefined) {
            const fallback = defaultFor(request);
            answer(request, fallback.kind === 'route' ? { kind: 'fail', rep: REP.hostUnreachable } : fallback);
            return;
          }
          pipeTo(request, target);
          return;
        }
      }
    };

    const pipeTo = (request: SocksRequest, target: RouteTarget): void => {
      const upstream = tcpConnect(target.port, target.host);
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.end();
      });
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        sendReply(request, REP.succeeded);
        const rest = buffer;
        buffer = Buffer.alloc(0);
        if (rest.length > 0) upstream.write(rest); // optimistic data, allowed by Tor
        client.off('data', onData);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (!connected) fail(request, err.code === 'ECONNREFUSED' ? REP.refused : REP.failure);
        else client.destroy();
      });
      client.on('close', () => upstream.destroy());
    };

    const onRequest = (request: SocksRequest): void => {
      requests.push(request);
      events.emit('request');
      if (request.command === 'other') {
        fail(request, REP.commandNotSupported);
        return;
      }
      if (request.command === 'resolve') {
        const explicit = replies.get(request.destination) ?? replies.get(request.host);
        if (explicit !== undefined && explicit.kind !== 'route') {
          answer(request, explicit);
          return;
        }
        if (request.host.endsWith('.onion')) {
          fail(request, REP.failure);
          return;
        }
        const ip = isIPv4(request.host) ? request.host : resolveTable.get(request.host);
        if (ip === undefined || !isIPv4(ip)) {
          fail(request, REP.hostUnreachable);
          return;
        }
        sendReply(request, REP.succeeded, ip.split('.').map(Number));
        client.end();
        return;
      }
      const delayMs = options.connectDelayMs ?? 0;
      if (delayMs <= 0) {
        answer(request, chooseReply(request));
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!client.destroyed) answer(request, chooseReply(request));
      }, delayMs);
      timers.add(timer);
    };

    // Returns true when it consumed a complete message and may be called again.
    const step = (): boolean => {
      switch (stage) {
        case 'greeting': {
          if (buffer.length < 2) return false;
          if (buffer[0] !== 0x05) {
            client.destroy();
            return false;
          }
          const count = buffer[1] ?? 0;
          if (buffer.length < 2 + count) return false;
          offered = [...buffer.subarray(2, 2 + count)];
          buffer = buffer.subarray(2 + count);
          const canPassword = offered.includes(0x02) && authMode !== 'no-auth-only';
          const canNone = offered.includes(0x00) && authMode !== 'require-password';
          if (canPassword) method = 0x02;
          else if (canNone) method = 0x00;
          else {
            client.end(Buffer.from([0x05, 0xff]));
            return false;
          }
          client.write(Buffer.from([0x05, method]));
          stage = method === 0x02 ? 'auth' : 'request';
          return true;
        }
        case 'auth': {
          // RFC 1929: VER(1) ULEN(1) UNAME PLEN(1) PASSWD
          if (buffer.length < 2) return false;
          const ulen = buffer[1] ?? 0;
          if (buffer.length < 3 + ulen) return false;
          const plen = buffer[2 + ulen] ?? 0;
          if (buffer.length < 3 + ulen + plen) return false;
          username = buffer.subarray(2, 2 + ulen).toString('utf8');
          password = buffer.subarray(3 + ulen, 3 + ulen + plen).toString('utf8');
          buffer = buffer.subarray(3 + ulen + plen);
          client.write(Buffer.from([0x01, 0x00]));
          stage = 'request';
          return true;
        }
        case 'request': {
          // VER CMD RSV ATYP DST.ADDR DST.PORT
          if (buffer.length < 5) return false;
          if (buffer[0] !== 0x05) {
            client.destroy();
            return false;
          }
          const commandByte = buffer[1] ?? 0;
          const atyp = buffer[3] ?? 0;
          let addressLength: number;
          let addressStart = 4;
          if (atyp === 0x01) addressLength = 4;
          else if (atyp === 0x04) addressLength = 16;
          else if (atyp === 0x03) {
            addressLength = buffer[4] ?? 0;
            addressStart = 5;
          } else {
            client.end(Buffer.from([0x05, 0x08, ...TOR_REPLY_TAIL]));
            stage = 'answered';
            return false;
          }
          const end = addressStart + addressLength + 2;
          if (buffer.length < end) return false;
          const raw = buffer.subarray(addressStart, addressStart + addressLength);
          const host = atyp === 0x03 ? raw.toString('latin1').toLowerCase() : atyp === 0x01 ? [...raw].join('.') : ipv6Text(raw);
          const port = buffer.readUInt16BE(addressStart + addressLength);
          buffer = buffer.subarray(end);
          stage = 'answered';
          onRequest({
            connection,
            command: commandByte === 0x01 ? 'connect' : commandByte === 0xf0 ? 'resolve' : 'other',
            commandByte,
            atyp,
            host,
            port,
            destination: `${host}:${port}`,
            method,
            offeredMethods: offered,
            username,
            password,
            rep: undefined,
          });
          return false;
        }
        case 'answered':
          return false;
      }
    };

    // After the request, bytes that arrive before the upstream connects (optimistic data) stay in
    // the buffer and are forwarded first.
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      while (step()) {
        // keep consuming complete messages
      }
    };
    client.on('data', onData);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake tor: no TCP address');

  return {
    address: '127.0.0.1',
    port: address.port,
    requests,
    get usernames() {
      return requests.map((r) => r.username);
    },
    get connectionCount() {
      return connectionCount;
    },
    get clientsOpen() {
      return clientsOpen;
    },
    route(destination, target) {
      routes.set(destination.toLowerCase(), target);
    },
    setReply(key, reply) {
      if (reply === undefined) replies.delete(key.toLowerCase());
      else replies.set(key.toLowerCase(), reply);
    },
    connects(destination) {
      const key = destination.toLowerCase();
      return requests.filter((r) => r.command === 'connect' && r.destination === key).length;
    },
    waitForRequests(n, timeoutMs = 20_000) {
      if (requests.length >= n) return Promise.resolve(requests);
      return new Promise((resolve, reject) => {
        const onRequest = (): void => {
          if (requests.length < n) return;
          clearTimeout(timer);
          events.off('request', onRequest);
          resolve(requests);
        };
        const timer = setTimeout(() => {
          events.off('request', onRequest);
          reject(new Error(`fake tor :${address.port}: wanted ${n} requests, got ${requests.length}`));
        }, timeoutMs);
        events.on('request', onRequest);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

function ipv6Text(raw: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
  return groups.join(':');
}
