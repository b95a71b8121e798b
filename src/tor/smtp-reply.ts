// SMTP replies (RFC 5321 §4.2): `250-first`, `250-more`, `250 last`. An incremental reader for
// the probe's small client, and EHLO capability parsing. Pure: no I/O, never throws.

export interface SmtpReply {
  readonly code: number;
  /** Text of each line without the code and separator. */
  readonly lines: readonly string[];
}

export type SmtpReadResult =
  | { readonly ok: true; readonly replies: readonly SmtpReply[] }
  | { readonly ok: false; readonly detail: string };

/** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets; tolerate servers up to this. */
const MAX_LINE = 4096;
const MAX_LINES = 256;

export class SmtpReplyReader {
  #partial = '';
  #code: number | undefined;
  #lines: string[] = [];
  #offset = 0;

  /** Feeds bytes; returns the replies they completed, or a protocol problem with its stream offset. */
  push(chunk: Buffer | string): SmtpReadResult {
    this.#partial += typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    const replies: SmtpReply[] = [];
    let nl = this.#partial.indexOf('\n');
    while (nl !== -1) {
      const line = this.#partial.slice(0, nl).replace(/\r$/, '');
      const at = this.#offset;
      this.#offset += nl + 1;
      this.#partial = this.#partial.slice(nl + 1);
      const m = /^([2-5]\d\d)([ -]|$)(.*)$/.exec(line);
      if (m === null) return { ok: false, detail: `not an SMTP reply line at byte ${at}: ${JSON.stringify(line.slice(0, 80))}` };
      const code = Number(m[1]);
      if (this.#code !== undefined && code !== this.#code) return { ok: false, detail: `reply code changed from ${this.#code} to ${code} inside a multi-line reply at byte ${at}` };
      this.#code = code;
      this.#lines.push(m[3] ?? '');
      if (this.#lines.length > MAX_LINES) return { ok: false, detail: `more than ${MAX_LINES} lines in one reply` };
      if (m[2] !== '-') {
        replies.push({ code, lines: this.#lines });
        this.#code = undefined;
        this.#lines = [];
      }
      nl = this.#partial.indexOf('\n');
    }
    if (this.#partial.length > MAX_LINE) return { ok: false, detail: `reply line longer than ${MAX_LINE} bytes at byte ${this.#offset}` };
    return { ok: true, replies };
  }
}

/** EHLO keywords with their parameters (`SIZE 10240000`), upper-cased keyword, in server order. */
export function ehloCapabilities(reply: SmtpReply): readonly string[] {
  return reply.lines.slice(1).map((l) => {
    const [keyword = '', ...params] = l.trim().split(/\s+/);
    return [keyword.toUpperCase(), ...params].join(' ');
  }).filter((l) => l !== '');
}
