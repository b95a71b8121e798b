// A receiving SMTP server for tests: records every envelope (with its ESMTP parameters) and the
// message bytes exactly as sent (dot-unstuffed), per connection. In-process (not Postfix's
// smtp-sink) so assertions read structured records directly and wait on events, not dump files.
//
//   const sink = await startSink();                      // 250 to everything, PIPELINING 8BITMIME SMTPUTF8
//   const sink = await startSink({
//     capabilities: { size: 1000, dsn: true, starttls: true },   // EHLO keywords (STARTTLS: a test certificate)
//     greeting: '421 4.3.2 busy',                        // instead of 220 (421 closes, others refuse all but QUIT)
//     commandReply: (line) => (line === 'RSET' ? '421 4.4.2 bye' : undefined),   // any command
//     rcptReply: (to) => (to === 'bad@x' ? '550 5.1.1 no such user' : undefined),
//     dataEndReply: (_m, i) => (i === 0 ? '451 4.3.0 later' : undefined),  // or { hang: true }, or { delayMs, reply }
//     closeAfterTransactions: 1,                         // server closes after the n-th final reply
//     stallData: true,                                   // stop reading after the 354
//     idleTimeoutMs: 200,                                // after a transaction: 421 and close when the client is silent that long
//   });
//   sink.messages          // accepted messages (see SinkMessage); sink.attempts counts every final dot
//   sink.connections       // per connection: its commands, TLS, lines sent while a reply was held, half-close
//   await sink.waitUntil(() => sink.connections.length === 2)   // event driven, bounded
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { testCertificate, type TestCertificate } from './test-certificate.ts';

export interface SinkRecipient {
  readonly address: string;
  /** ESMTP parameters as sent (`NOTIFY=SUCCESS,FAILURE`, `ORCPT=rfc822;a@b`). */
  readonly params: readonly string[];
}

export interface SinkMessage {
  /** Reverse path without angle brackets (`` for the null sender). */
  readonly from: string;
  /** Accepted recipients, in RCPT order. */
  readonly to: readonly string[];
  /** The message decoded as UTF-8, CRLF line ends, dot-unstuffed, without the final `.` line. */
  readonly data: string;
  readonly helo: string;
  /** 1-based number of the SMTP connection that carried the message. */
  readonly connection: number;
  /** 1-based number of the transaction on that connection. */
  readonly transaction: number;
  /** MAIL parameters as sent (`SIZE=1234`, `BODY=8BITMIME`, `SMTPUTF8`, `RET=HDRS`, `ENVID=x`). */
  readonly mailParams: readonly string[];
  readonly recipients: readonly SinkRecipient[];
  /** The session was under TLS (STARTTLS) when the message came. */
  readonly tls: boolean;
  /** The message bytes exactly as received, dot-unstuffed (8-bit data byte for byte). */
  readonly bytes: Buffer;
  /** SHA-256 of `bytes`, hex, and their length: comparable across a process boundary (a netns worker's RPC) without moving the bytes. */
  readonly sha256: string;
  readonly size: number;
}

export interface SinkConnection {
  readonly number: number;
  /** Every command line received (not message data), in order; `STARTTLS` lines included. */
  readonly commands: readonly string[];
  readonly tls: boolean;
  /**
   * Lines that arrived while the sink held a reply back (a delayed or hanging final reply): a
   * client that waits for the reply to the final dot sends none.
   */
  readonly sentWhileReplyHeld: readonly string[];
  /** The client half-closed (sent FIN) while the connection was open. */
  readonly clientEnded: boolean;
  readonly closed: boolean;
}

/** A scripted reply: the reply line(s) (CRLF between lines), `{ hang: true }` (never answer), or a delayed reply. */
export type SinkReply = string | { readonly hang: true } | { readonly delayMs: number; readonly reply?: string } | undefined;

export interface SinkCapabilities {
  readonly pipelining?: boolean;
  /** SIZE with this limit (0: no limit); undefined: not offered. */
  readonly size?: number;
  readonly eightBitMime?: boolean;
  readonly smtpUtf8?: boolean;
  readonly dsn?: boolean;
  readonly enhancedStatusCodes?: boolean;
  /** Offer STARTTLS (with `tls` or a certificate made for the test). */
  readonly starttls?: boolean;
  /** false: EHLO is refused with 502 (HELO still works). */
  readonly ehlo?: boolean;
}

export interface SinkOptions {
  /** A fixed port, e.g. to come up where a queued message is waiting to go; default: a free one. */
  readonly port?: number;
  /** Default: PIPELINING, 8BITMIME, SMTPUTF8. */
  readonly capabilities?: SinkCapabilities;
  readonly tls?: TestCertificate;
  /** The reply to STARTTLS instead of 220 (`454 4.7.0 TLS not available`). */
  readonly starttlsReply?: string;
  /** Instead of the 220 greeting. */
  readonly greeting?: string;
  /** Any command line (before the sink's own handling): a reply to send instead; a 421 closes the connection. */
  readonly commandReply?: (line: string, connection: number) => string | undefined;
  /** Per RCPT: a reply to send instead of 250 (the recipient is then not accepted). */
  readonly rcptReply?: (address: string, params: readonly string[]) => string | undefined;
  /** Per final dot (`attempt` counts final dots on the whole sink, from 0): a reply instead of 250. */
  readonly dataEndReply?: (message: SinkMessage, attempt: number) => SinkReply;
  /** The server closes a connection after this many final replies on it. */
  readonly closeAfterTransactions?: number;
  /** After its 354 the server stops reading, so the client's message data backs up (a stalled server). */
  readonly stallData?: boolean;
  /** After a transaction, the server sends 421 and closes when the client sends nothing for this long. */
  readonly idleTimeoutMs?: number;
}

export interface Sink {
  readonly port: number;
  /** Accepted messages (2xx to the final dot), in arrival order. */
  readonly messages: readonly SinkMessage[];
  readonly connections: readonly SinkConnection[];
  readonly connectionCount: number;
  /** Final dots received, accepted or not. */
  readonly attempts: number;
  /** Resolves once `n` messages in total have arrived; rejects after `timeoutMs` (a failure bound only). */
  waitForMessages(n: number, timeoutMs?: number): Promise<readonly SinkMessage[]>;
  /** Resolves with the first message (already received or future) that matches. */
  waitForMessage(match: (m: SinkMessage) => boolean, timeoutMs?: number): Promise<SinkMessage>;
  /** Resolves once `check` holds, re-checked on every sink event; rejects after `timeoutMs`. */
  waitUntil(check: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_WAIT_MS = 20_000;
const HOSTNAME = 'sink.test';
const DEFAULT_CAPABILITIES: SinkCapabilities = { pipelining: true, eightBitMime: true, smtpUtf8: true };

interface MutableConnection {
  number: number;
  commands: string[];
  tls: boolean;
  sentWhileReplyHeld: string[];
  clientEnded: boolean;
  closed: boolean;
}

interface SinkState {
  readonly options: SinkOptions;
  readonly capabilities: SinkCapabilities;
  readonly messages: SinkMessage[];
  readonly events: EventEmitter;
  attempts: number;
}

export async function startSink(options: SinkOptions = {}): Promise<Sink> {
  const capabilities = options.capabilities ?? DEFAULT_CAPABILITIES;
  const state: SinkState = { options, capabilities, messages: [], events: new EventEmitter(), attempts: 0 };
  const connections: MutableConnection[] = [];
  const sockets = new Set<Socket>();
  if (capabilities.starttls === true && options.tls === undefined) testCertificate();

  const server: Server = createServer((socket) => {
    const connection: MutableConnection = { number: connections.length + 1, commands: [], tls: false, sentWhileReplyHeld: [], clientEnded: false, closed: false };
    connections.push(connection);
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      connection.closed = true;
      state.events.emit('change');
    });
    serveConnection(socket, connection, state);
    state.events.emit('change');
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
  const { messages, events } = state;

  function waitUntil(check: () => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onChange = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        events.off('change', onChange);
        resolve();
      };
      const timer = setTimeout(() => {
        events.off('change', onChange);
        reject(new Error(`sink :${port}: condition not met within ${timeoutMs} ms; messages: ${describe(messages)}; connections: ${connections.length}`));
      }, timeoutMs);
      events.on('change', onChange);
    });
  }

  async function waitForMessage(match: (m: SinkMessage) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<SinkMessage> {
    let found: SinkMessage | undefined;
    await waitUntil(() => (found = messages.find(match)) !== undefined, timeoutMs).catch((err: unknown) => {
      throw new Error(`sink :${port}: no matching message within ${timeoutMs} ms; got ${describe(messages)}`, { cause: err });
    });
    if (found === undefined) throw new Error('sink: unreachable');
    return found;
  }

  async function waitForMessages(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<readonly SinkMessage[]> {
    await waitUntil(() => messages.length >= n, timeoutMs).catch((err: unknown) => {
      throw new Error(`sink :${port}: wanted ${n} messages`, { cause: err });
    });
    return messages;
  }

  return {
    port,
    messages,
    connections,
    get connectionCount() {
      return connections.length;
    },
    get attempts() {
      return state.attempts;
    },
    waitForMessage,
    waitForMessages,
    waitUntil,
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

function ehloLines(caps: SinkCapabilities, tls: boolean): string[] {
  const lines = [HOSTNAME];
  if (caps.pipelining === true) lines.push('PIPELINING');
  if (caps.size !== undefined) lines.push(caps.size === 0 ? 'SIZE' : `SIZE ${caps.size}`);
  if (caps.eightBitMime === true) lines.push('8BITMIME');
  if (caps.smtpUtf8 === true) lines.push('SMTPUTF8');
  if (caps.dsn === true) lines.push('DSN');
  if (caps.enhancedStatusCodes === true) lines.push('ENHANCEDSTATUSCODES');
  if (caps.starttls === true && !tls) lines.push('STARTTLS');
  return lines;
}

/** A MAIL or RCPT parameter the sink did not offer, as a strict server would refuse it (RFC 5321 §4.1.1.11). */
function unofferedParam(params: readonly string[], caps: SinkCapabilities, command: 'MAIL' | 'RCPT'): string | undefined {
  const offered = (keyword: string): boolean => {
    switch (keyword) {
      case 'SIZE':
        return command === 'MAIL' && caps.size !== undefined;
      case 'BODY':
        return command === 'MAIL' && caps.eightBitMime === true;
      case 'SMTPUTF8':
        return command === 'MAIL' && caps.smtpUtf8 === true;
      case 'RET':
      case 'ENVID':
        return command === 'MAIL' && caps.dsn === true;
      case 'NOTIFY':
      case 'ORCPT':
        return command === 'RCPT' && caps.dsn === true;
      default:
        return false;
    }
  };
  return params.find((p) => !offered((p.split('=')[0] ?? '').toUpperCase()));
}

/** One SMTP conversation. Lines are handled strictly in order, a held reply holds everything after it. */
function serveConnection(raw: Socket, connection: MutableConnection, state: SinkState): void {
  const { options, capabilities: caps } = state;
  let stream: Socket = raw;
  let buffered: Buffer = Buffer.alloc(0);
  const queue: Buffer[] = [];
  let working = false;
  let holding = false;
  let stopped = false;
  let inData = false;
  let refusing = false;
  let helo = '';
  let from: string | undefined;
  let mailParams: string[] = [];
  let recipients: SinkRecipient[] = [];
  let dataChunks: Buffer[] = [];
  let transactions = 0;
  let idleTimer: NodeJS.Timeout | undefined;

  const changed = (): void => {
    state.events.emit('change');
  };
  const write = (text: string): void => {
    if (stream.writable) stream.write(`${text}\r\n`);
  };
  const reset = (): void => {
    from = undefined;
    mailParams = [];
    recipients = [];
    dataChunks = [];
  };
  const armIdle = (): void => {
    clearTimeout(idleTimer);
    if (options.idleTimeoutMs === undefined || transactions === 0 || from !== undefined || inData) return;
    idleTimer = setTimeout(() => {
      write(`421 4.4.2 ${HOSTNAME} Error: timeout exceeded`);
      stopped = true;
      stream.end();
    }, options.idleTimeoutMs);
  };

  const onCommand = (line: string): string | Promise<string | undefined> | undefined => {
    connection.commands.push(line);
    changed();
    const verb = line.slice(0, 4).toUpperCase();
    const arg = line.slice(4).trim();
    if (refusing) {
      if (verb === 'QUIT') return '221 2.0.0 Bye';
      return '503 5.5.1 Error: no service';
    }
    const scripted = options.commandReply?.(line, connection.number);
    if (scripted !== undefined) return scripted;
    switch (verb) {
      case 'EHLO':
        if (caps.ehlo === false) return '502 5.5.2 Error: command not recognized';
        helo = arg;
        reset();
        return ehloLines(caps, connection.tls).map((l, i, all) => `250${i === all.length - 1 ? ' ' : '-'}${l}`).join('\r\n');
      case 'HELO':
        helo = arg;
        reset();
        return `250 ${HOSTNAME}`;
      case 'STAR': {
        if (line.toUpperCase() !== 'STARTTLS' || caps.starttls !== true || connection.tls) return '502 5.5.2 Error: command not recognized';
        if (options.starttlsReply !== undefined) return options.starttlsReply;
        startTls();
        return undefined;
      }
      case 'MAIL': {
        const parsed = pathArgument(arg, 'FROM:');
        if (parsed === undefined) return '501 5.5.4 Syntax: MAIL FROM:<address>';
        const bad = unofferedParam(parsed.params, caps, 'MAIL');
        if (bad !== undefined) return `555 5.5.4 Unsupported option: ${bad}`;
        reset();
        from = parsed.path;
        mailParams = parsed.params;
        return '250 2.1.0 Ok';
      }
      case 'RCPT': {
        const parsed = pathArgument(arg, 'TO:');
        if (from === undefined) return '503 5.5.1 Error: need MAIL command';
        if (parsed === undefined) return '501 5.5.4 Syntax: RCPT TO:<address>';
        const bad = unofferedParam(parsed.params, caps, 'RCPT');
        if (bad !== undefined) return `555 5.5.4 Unsupported option: ${bad}`;
        const scripted = options.rcptReply?.(parsed.path, parsed.params);
        if (scripted !== undefined) return scripted;
        recipients.push({ address: parsed.path, params: parsed.params });
        return '250 2.1.5 Ok';
      }
      case 'DATA':
        if (recipients.length === 0) return '554 5.5.1 Error: no valid recipients';
        inData = true;
        dataChunks = [];
        if (options.stallData === true) {
          stream.pause();
          stopped = true;
        }
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

  /** After the 220 to STARTTLS: the rest is TLS; plaintext that followed STARTTLS is dropped (RFC 3207 §4.2). */
  const startTls = (): void => {
    raw.pause();
    raw.off('data', onData);
    queue.length = 0;
    buffered = Buffer.alloc(0);
    raw.write(`220 2.0.0 Ready to start TLS\r\n`, () => {
      const cert = options.tls ?? testCertificate();
      const secure = new TLSSocket(raw, { isServer: true, key: cert.key, cert: cert.cert });
      secure.on('error', () => {
        // A client that gave up on the handshake; nothing to record.
      });
      secure.once('secure', () => {
        connection.tls = true;
        helo = '';
        reset();
        changed();
      });
      stream = secure;
      secure.on('data', onData);
      secure.on('end', onEnd);
    });
  };

  const onDataEnd = (): Promise<string | undefined> | string => {
    inData = false;
    transactions += 1;
    const bytes = Buffer.concat(dataChunks);
    const message: SinkMessage = {
      from: from ?? '',
      to: recipients.map((r) => r.address),
      data: bytes.toString('utf8'),
      helo,
      connection: connection.number,
      transaction: transactions,
      mailParams,
      recipients,
      tls: connection.tls,
      bytes,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
    };
    const attempt = state.attempts;
    state.attempts += 1;
    reset();
    const scripted = options.dataEndReply?.(message, attempt);
    const finish = (text: string): string => {
      if (text.startsWith('2')) {
        state.messages.push(message);
      }
      changed();
      return text;
    };
    if (scripted === undefined) return finish('250 2.0.0 Ok: queued');
    if (typeof scripted === 'string') return finish(scripted);
    holding = true;
    changed();
    if ('hang' in scripted) return new Promise<undefined>(() => undefined);
    return new Promise((resolve) => {
      setTimeout(() => {
        holding = false;
        resolve(finish(scripted.reply ?? '250 2.0.0 Ok: queued'));
      }, scripted.delayMs);
    });
  };

  const afterReply = (text: string, finalReply = false): void => {
    write(text);
    const closing = text.startsWith('221') || text.startsWith('421') || (finalReply && options.closeAfterTransactions !== undefined && transactions >= options.closeAfterTransactions);
    if (closing) {
      stopped = true;
      stream.end();
    }
  };

  const handle = (line: Buffer): Promise<void> | undefined => {
    if (inData) {
      if (line.equals(DOT_CRLF) || line.equals(DOT_LF)) {
        const answer = onDataEnd();
        if (typeof answer === 'string') {
          afterReply(answer, true);
          return undefined;
        }
        return answer.then((text) => {
          if (text !== undefined) afterReply(text, true);
        });
      }
      dataChunks.push(line[0] === 0x2e ? line.subarray(1) : line);
      return undefined;
    }
    const text = line.toString('utf8').replace(/\r?\n$/, '');
    const answer = onCommand(text);
    if (answer === undefined) return undefined;
    if (typeof answer === 'string') {
      afterReply(answer);
      return undefined;
    }
    return answer.then((t) => {
      if (t !== undefined) afterReply(t);
    });
  };

  const work = async (): Promise<void> => {
    if (working) return;
    working = true;
    while (!stopped) {
      const line = queue.shift();
      if (line === undefined) break;
      const pending = handle(line);
      if (pending !== undefined) await pending;
    }
    working = false;
    armIdle();
  };

  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    let start = 0;
    let nl = buffered.indexOf(0x0a, start);
    while (nl !== -1) {
      const line = buffered.subarray(start, nl + 1);
      if (holding) connection.sentWhileReplyHeld.push(line.toString('utf8').replace(/\r?\n$/, ''));
      queue.push(line);
      start = nl + 1;
      nl = buffered.indexOf(0x0a, start);
    }
    buffered = buffered.subarray(start);
    if (holding && queue.length > 0) changed();
    void work();
  };

  raw.on('data', onData);
  const onEnd = (): void => {
    if (!stopped) connection.clientEnded = true;
    changed();
  };
  raw.on('end', onEnd);
  raw.on('close', () => {
    stopped = true;
    clearTimeout(idleTimer);
  });
  raw.on('error', () => {
    // The peer went away; nothing to record.
  });
  const greeting = options.greeting;
  if (greeting === undefined) {
    write(`220 ${HOSTNAME} ESMTP test sink`);
  } else {
    write(greeting);
    if (greeting.startsWith('421')) {
      stopped = true;
      raw.end();
    } else refusing = !greeting.startsWith('220');
  }
  armIdle();
}

const DOT_CRLF = Buffer.from('.\r\n');
const DOT_LF = Buffer.from('.\n');

/** `FROM:<a@b> SIZE=1` -> `a@b` and its parameters; tolerates a space after the colon. */
function pathArgument(arg: string, keyword: string): { readonly path: string; readonly params: string[] } | undefined {
  if (!arg.toUpperCase().startsWith(keyword)) return undefined;
  const rest = arg.slice(keyword.length).trimStart();
  const match = /^<([^>]*)>/.exec(rest);
  if (match !== null) return { path: match[1] ?? '', params: words(rest.slice(match[0].length)) };
  const [bare, ...params] = words(rest);
  return bare === undefined ? undefined : { path: bare, params };
}

function words(s: string): string[] {
  return s.split(' ').filter((w) => w !== '');
}
