// One request handler per lookup protocol: bytes in, reply jobs out, in request order. No sockets
// here; the server runs the jobs one at a time per connection and writes what they return.
import type { LookupAnswerer, LookupOutcome } from './answerer.ts';
import { NetstringDecoder, encodeNetstring } from './netstring.ts';
import { parseSocketmapRequest, socketmapReplyText, type SocketmapReply } from './socketmap-codec.ts';
import { LineDecoder, TCP_TABLE_MAX_LINE, parseTcpTableRequest, tcpTableReplyLine } from './tcp-table-codec.ts';
import { EXIM_MAX_REQUEST, eximDefer, parseEximRequest } from './exim-codec.ts';
import { eximHeaderReply, eximRouteReply, postfixAnswer, sendmailAnswer, socketmapReply, tcpTableReply } from './replies.ts';

export type LookupProtocol = 'socketmap' | 'sendmail' | 'tcp-table' | 'exim';

/** Runs one request: the reply bytes, synchronously when no DNS is needed. */
export type ReplyJob = () => Buffer | Promise<Buffer>;

export interface FeedResult {
  readonly jobs: readonly ReplyJob[];
  /** Close the connection after these jobs (a framing error, or Exim's single request). */
  readonly close: boolean;
  /** Why the connection closes on a protocol error (for the log). */
  readonly error?: string;
}

export interface ProtocolHandler {
  feed(chunk: Buffer): FeedResult;
  /** The peer half-closed: anything still buffered. */
  end(): FeedResult;
}

/** Postfix's socketmap_max_query_size (10000) is the most any MTA sends. */
export const SOCKETMAP_MAX_REQUEST = 10_000;

export function createProtocolHandler(protocol: LookupProtocol, answerer: LookupAnswerer, maxRequestBytes?: number): ProtocolHandler {
  switch (protocol) {
    case 'socketmap':
    case 'sendmail':
      return new SocketmapHandler(protocol, answerer, maxRequestBytes ?? SOCKETMAP_MAX_REQUEST);
    case 'tcp-table':
      return new TcpTableHandler(answerer, maxRequestBytes ?? TCP_TABLE_MAX_LINE);
    case 'exim':
      return new EximHandler(answerer, maxRequestBytes ?? EXIM_MAX_REQUEST);
  }
}

const NOTHING: FeedResult = { jobs: [], close: false };

function then<T>(value: T | Promise<T>, f: (v: T) => Buffer): Buffer | Promise<Buffer> {
  return value instanceof Promise ? value.then(f) : f(value);
}

class SocketmapHandler implements ProtocolHandler {
  readonly #protocol: 'socketmap' | 'sendmail';
  readonly #answerer: LookupAnswerer;
  readonly #decoder: NetstringDecoder;

  constructor(protocol: 'socketmap' | 'sendmail', answerer: LookupAnswerer, max: number) {
    this.#protocol = protocol;
    this.#answerer = answerer;
    this.#decoder = new NetstringDecoder(max);
  }

  feed(chunk: Buffer): FeedResult {
    const r = this.#decoder.push(chunk);
    const jobs = r.frames.map((f) => this.#job(f));
    if (r.ok) return { jobs, close: false };
    // The framing is lost: answer the error once and close (both MTAs reconnect and retry).
    return { jobs: [...jobs, fixed(frame({ status: 'PERM', reason: r.reason }))], close: true, error: r.reason };
  }

  end(): FeedResult {
    if (this.#decoder.pendingBytes === 0) return NOTHING;
    return { jobs: [], close: true, error: 'connection closed in the middle of a netstring' };
  }

  #job(payload: Buffer): ReplyJob {
    const request = parseSocketmapRequest(payload);
    if (!request.ok) return fixed(frame({ status: 'PERM', reason: request.reason }));
    const { name, key } = request;
    return () => {
      // Sendmail folds keys unless the map says -f; Postfix never does: the resolver lower-cases.
      const outcome = this.#answerer.decide(key, this.#protocol);
      const settings = this.#answerer.settings;
      if (this.#protocol === 'sendmail') return then(outcome, (o) => frame(socketmapReply(sendmailAnswer(name, o, settings.transport), name)));
      return then(outcome, (o) => frame(socketmapReply(postfixAnswer(o, settings.transport, settings.relayNexthop))));
    };
  }
}

class TcpTableHandler implements ProtocolHandler {
  readonly #answerer: LookupAnswerer;
  readonly #decoder: LineDecoder;

  constructor(answerer: LookupAnswerer, max: number) {
    this.#answerer = answerer;
    this.#decoder = new LineDecoder(max);
  }

  feed(chunk: Buffer): FeedResult {
    const r = this.#decoder.push(chunk);
    const jobs = r.lines.map((l) => this.#job(l));
    if (r.ok) return { jobs, close: false };
    return { jobs: [...jobs, fixed(Buffer.from(tcpTableReplyLine({ status: 400, reason: r.reason }), 'latin1'))], close: true, error: r.reason };
  }

  end(): FeedResult {
    if (this.#decoder.pendingBytes === 0) return NOTHING;
    return { jobs: [], close: true, error: 'connection closed in the middle of a request line' };
  }

  #job(rawLine: Buffer): ReplyJob {
    const line = rawLine.at(-1) === 0x0d ? rawLine.subarray(0, -1) : rawLine;
    const request = parseTcpTableRequest(line);
    // A malformed request gets 400 (Postfix then reconnects); the stream itself is still in sync.
    if (!request.ok) return fixed(Buffer.from(tcpTableReplyLine({ status: 400, reason: request.reason }), 'latin1'));
    const key = request.key;
    return () => then(this.#answerer.decide(key, 'tcp-table'), (o) => Buffer.from(tcpTableReplyLine(tcpTableReply(postfixAnswer(o, this.#answerer.settings.transport, this.#answerer.settings.relayNexthop))), 'latin1'));
  }
}

/** One request per connection: answer at the first newline or at EOF, then close. */
class EximHandler implements ProtocolHandler {
  readonly #answerer: LookupAnswerer;
  readonly #max: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #done = false;

  constructor(answerer: LookupAnswerer, max: number) {
    this.#answerer = answerer;
    this.#max = max;
  }

  feed(chunk: Buffer): FeedResult {
    if (this.#done) return NOTHING;
    const nl = chunk.indexOf(0x0a);
    const part = nl < 0 ? chunk : chunk.subarray(0, nl);
    this.#chunks.push(Buffer.from(part));
    this.#size += part.length;
    if (this.#size > this.#max) return this.#finish(fixed(Buffer.from(eximDefer(`request longer than ${this.#max} bytes`))), 'request too long');
    if (nl < 0) return NOTHING;
    return this.#finish(this.#job(Buffer.concat(this.#chunks)));
  }

  end(): FeedResult {
    if (this.#done) return NOTHING;
    return this.#finish(this.#job(Buffer.concat(this.#chunks)));
  }

  #finish(job: ReplyJob, error?: string): FeedResult {
    this.#done = true;
    this.#chunks = [];
    return error === undefined ? { jobs: [job], close: true } : { jobs: [job], close: true, error };
  }

  #job(bytes: Buffer): ReplyJob {
    const request = parseEximRequest(bytes);
    if (!request.ok) return fixed(Buffer.from(eximDefer(request.reason)));
    if (request.kind === 'route') {
      const key = request.key;
      return () => then(this.#answerer.decide(key, 'exim'), (o) => Buffer.from(eximRouteReply(o)));
    }
    const domains = request.domains;
    return () => {
      const outcomes = domains.map((d) => this.#answerer.decide(d, 'exim'));
      if (outcomes.every((o): o is LookupOutcome => !(o instanceof Promise))) return Buffer.from(eximHeaderReply(outcomes));
      return Promise.all(outcomes.map(async (o) => o)).then((all) => Buffer.from(eximHeaderReply(all)));
    };
  }
}

function frame(reply: SocketmapReply): Buffer {
  return encodeNetstring(socketmapReplyText(reply));
}

function fixed(bytes: Buffer): ReplyJob {
  return () => bytes;
}
