// Byte fixtures and a socket-free session driver for milter tests.
import { silentLogger, type Logger } from '../../src/log.ts';
import { MilterSession, type SessionOptions } from '../../src/milter/session.ts';
import { decodeCommand } from '../../src/milter/wire/commands.ts';
import { FrameDecoder } from '../../src/milter/wire/frame-decoder.ts';
import { decodeFilterReply, type FilterReply } from '../../src/milter/wire/mta-replies.ts';
import * as mta from '../../src/milter/wire/mta-commands.ts';
import type { FilterSpec } from '../../src/milter/types.ts';

/** Hex with spaces/newlines allowed -> bytes. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/[^0-9a-fA-F]/g, ''), 'hex');
}

/** Decodes every filter reply in `bytes` (all packets must be complete). */
export function decodeReplies(bytes: Buffer): FilterReply[] {
  return new FrameDecoder().push(bytes).map((f) => decodeFilterReply(f.code, f.payload));
}

/**
 * A captured-style Postfix 3.x smtpd conversation (milter_protocol = 6, default macro lists):
 * negotiation, CONNECT and HELO with macros, then two messages. Postfix writes each D packet
 * together with its command, sends D-L before every header and D-B before every body chunk, and
 * ends each message with two ABORTs.
 */
export function postfixConversation(): Buffer[] {
  const message = (qid: string, from: string, rcpts: readonly string[]): Buffer[] => [
    mta.encodeMacro('M', [['{mail_addr}', from.slice(1, -1)], ['{mail_host}', 'example.org'], ['{mail_mailer}', 'smtp']]),
    mta.encodeMail(from, ['SIZE=512', 'BODY=8BITMIME']),
    ...rcpts.flatMap((r, i) => [
      mta.encodeMacro('R', [
        ...(i === 0 ? [] : [['i', qid] as const]),
        ['{rcpt_addr}', r.slice(1, -1)],
        ['{rcpt_host}', 'relay.example'],
        ['{rcpt_mailer}', 'smtp'],
      ]),
      mta.encodeRcpt(r),
    ]),
    mta.encodeMacro('T', [['i', qid]]),
    mta.DATA,
    mta.encodeMacro('L', [['i', qid]]),
    mta.encodeHeader('From', `sender <${from.slice(1, -1)}>`),
    mta.encodeMacro('L', [['i', qid]]),
    mta.encodeHeader('X-Onion-Route', 'forged'),
    mta.encodeMacro('L', [['i', qid]]),
    mta.encodeHeader('Subject', ''),
    mta.encodeMacro('N', [['i', qid]]),
    mta.END_OF_HEADERS,
    mta.encodeMacro('B', [['i', qid]]),
    mta.encodeBody(Buffer.from('hello\r\nworld\r\n')),
    mta.encodeMacro('E', [['i', qid]]),
    mta.END_OF_MESSAGE,
    mta.ABORT,
    mta.ABORT,
  ];
  return [
    mta.encodeOptneg(6, 0x1ff, 0x1fffff),
    mta.encodeMacro('C', [['j', 'mx.example'], ['{daemon_name}', 'mx.example'], ['v', 'Postfix 3.8.6'], ['_', 'client.example [192.0.2.7]']]),
    mta.encodeConnect('client.example', 'inet', 50000, '192.0.2.7'),
    mta.encodeMacro('H', []),
    mta.encodeHelo('client.example'),
    ...message('4ZQ1xL0abcz1', '<alice@example.org>', ['<bob@onion.example>', '<carol@onion.example>']),
    ...message('4ZQ1xL0abcz2', '<>', ['<dave@onion.example>']),
    mta.QUIT,
  ];
}

export interface Driver {
  readonly session: MilterSession;
  /** Every packet the session sent, in order (one entry per send call). */
  readonly sent: Buffer[];
  /** Feeds raw bytes through a framer and the session, one command at a time. */
  feed(bytes: Buffer): Promise<void>;
  /** Decoded replies sent since the last call. */
  take(): FilterReply[];
}

export function drive(filter: FilterSpec, options: Partial<Omit<SessionOptions, 'filter' | 'send'>> & { log?: Logger } = {}): Driver {
  const sent: Buffer[] = [];
  let taken = 0;
  const session = new MilterSession({ id: 't1', log: silentLogger(), ...options, filter, send: (p) => sent.push(p) });
  const frames = new FrameDecoder();
  return {
    session,
    sent,
    async feed(bytes) {
      for (const f of frames.push(bytes)) await session.handle(decodeCommand(f.code, f.payload));
    },
    take() {
      const fresh = sent.slice(taken);
      taken = sent.length;
      return fresh.flatMap((b) => decodeReplies(b));
    },
  };
}

/** Records log lines as objects (pino to an in-memory stream). */
export async function recordingLogger(): Promise<{ log: Logger; lines: Record<string, unknown>[] }> {
  const { pino } = await import('pino');
  const { Writable } = await import('node:stream');
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'trace' }, dest), lines };
}

/** Polls `cond` until true; fails after `bound` ms (a bound, never an assertion on duration). */
export async function waitFor(cond: () => boolean, what: string, bound = 5000): Promise<void> {
  const give = Date.now() + bound;
  while (!cond()) {
    if (Date.now() > give) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
