// The message after DATA, as it streams through the relay. Takes the MTA's bytes in wire form in
// chunks of any size and gives back the bytes to send upstream, still in wire form (dot-stuffing
// kept: nothing is un-stuffed and stuffed again), without the terminating `.` line. On the way it
//   - finds CRLF.CRLF across chunk boundaries (a message may also end at once with `.` CRLF);
//   - refuses bare LF and bare CR (RFC 5321 §2.3.8; the ambiguity SMTP smuggling lives on): from
//     the first one nothing more is forwarded, and the session aborts the upstream transactions;
//   - counts the message's octets as RFC 1870 does (CRLFs in, stuffing dots and the final `.` out)
//     against the size limit, with the same consequence;
//   - deletes every field named in `deleteHeaders` (case-insensitive, continuation lines included)
//     from the header section (up to the first empty line), so a routing header never leaves the
//     host whatever the MTA's header checks did.
// Memory is bounded whatever the input: bytes go out as slices of the chunks they came in; only a
// line-start `.`, a CR, and a header field's name (up to the longest deleted name plus some white
// space) are held back until the next bytes say what they are. Pure.

export type DataProblem =
  | { readonly kind: 'bare-lf'; readonly offset: number }
  | { readonly kind: 'bare-cr'; readonly offset: number }
  | { readonly kind: 'too-big'; readonly limit: number };

export interface DataScanResult {
  /** Bytes to send upstream, in order; none once there is a problem. */
  readonly forward: readonly Buffer[];
  /** Once the terminating `.` line was read: the bytes that followed it (pipelined commands). */
  readonly rest: Buffer | undefined;
}

export interface DataScannerOptions {
  /** Octets (RFC 1870 counting) above which the message is refused. */
  readonly maxMessageSize: number;
  /** Header field names to delete from the header section. */
  readonly deleteHeaders: readonly string[];
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const COLON = 0x3a;
const SP = 0x20;
const HTAB = 0x09;
/** White space tolerated between a deleted field's name and its colon (RFC 5322 §4.5.3 obs-optional). */
const NAME_SLACK = 64;

const State = {
  /** At the start of a line (after CRLF, or at the start of the message). */
  LineStart: 0,
  /** A line began with `.`: stuffing, or the terminator if CRLF follows. */
  Dot: 1,
  /** `.` CR at a line start: the terminator if LF follows. */
  DotCr: 2,
  /** Inside a header field's name, deciding whether the field is deleted. */
  Name: 3,
  /** Inside a line. */
  Text: 4,
  /** After a CR inside a line: LF must follow. */
  Cr: 5,
  Done: 6,
} as const;
type State = (typeof State)[keyof typeof State];

export class DataScanner {
  readonly #max: number;
  readonly #names: readonly Buffer[];
  readonly #maxName: number;
  #state: State = State.LineStart;
  #size = 0;
  /** Stream offset of the current chunk's first byte, for problem reports. */
  #base = 0;
  #problem: DataProblem | undefined;
  #inHeaders: boolean;
  /** The current line is dropped (it belongs to a deleted field). */
  #dropLine = false;
  /** The current field is deleted: its continuation lines are too. */
  #dropField = false;
  #lineEmpty = true;
  /** The field name so far, lower-cased, for matching (the held bytes keep the original). */
  #name: number[] = [];

  // Output of the current push: contiguous slices of the chunk, merged.
  #chunk: Buffer = Buffer.alloc(0);
  #pieces: Buffer[] = [];
  #from = -1;
  #to = -1;
  // Bytes held back: from #holdFrom in the current chunk, after #holdPrefix (bytes held from earlier chunks).
  #holding = false;
  #holdFrom = 0;
  #holdPrefix: number[] = [];

  constructor(options: DataScannerOptions) {
    this.#max = options.maxMessageSize;
    this.#names = options.deleteHeaders.map((n) => Buffer.from(n.toLowerCase(), 'latin1'));
    this.#maxName = this.#names.reduce((m, n) => Math.max(m, n.length), 0) + NAME_SLACK;
    this.#inHeaders = this.#names.length > 0;
  }

  /** The first problem, if any: the message must be refused; nothing was forwarded since. */
  get problem(): DataProblem | undefined {
    return this.#problem;
  }

  /** Message octets so far (RFC 1870 counting). */
  get size(): number {
    return this.#size;
  }

  /** The terminating `.` line was read. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  push(input: Uint8Array): DataScanResult {
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (this.#state === State.Done) return { forward: [], rest: chunk };
    this.#chunk = chunk;
    this.#pieces = [];
    this.#from = -1;
    this.#to = -1;
    this.#holdFrom = 0;
    let nextCr = -2;
    let nextLf = -2;
    let i = 0;
    while (i < chunk.length) {
      const b = chunk[i] ?? 0;
      switch (this.#state) {
        case State.LineStart:
          if (b === DOT) {
            this.#hold(i);
            this.#state = State.Dot;
            i++;
          } else {
            this.#beginLine(i, b);
          }
          continue;
        case State.Dot:
          if (b === CR) {
            this.#state = State.DotCr;
            i++;
          } else {
            // A stuffing dot: not counted; it goes out with its line.
            this.#beginLine(i, b);
          }
          continue;
        case State.DotCr:
          if (b === LF) return this.#finish(i + 1);
          // `.` CR x: the CR is bare.
          this.#fail({ kind: 'bare-cr', offset: this.#base + i - 1 });
          this.#state = State.Text;
          continue;
        case State.Name:
          if (this.#nameByte(b, i)) i++;
          continue;
        case State.Text: {
          if (b === CR) {
            this.#count(1);
            this.#hold(i);
            this.#state = State.Cr;
            i++;
            continue;
          }
          if (b === LF) {
            this.#fail({ kind: 'bare-lf', offset: this.#base + i });
            i++;
            continue;
          }
          // Fast path: the rest of the line up to the next CR or LF as one slice.
          if (nextCr !== -1 && nextCr < i) nextCr = chunk.indexOf(CR, i);
          if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
          const end = Math.min(nextCr < 0 ? chunk.length : nextCr, nextLf < 0 ? chunk.length : nextLf);
          this.#count(end - i);
          this.#lineEmpty = false;
          if (!this.#dropLine) this.#range(i, end);
          i = end;
          continue;
        }
        case State.Cr:
          if (b !== LF) {
            this.#fail({ kind: 'bare-cr', offset: this.#base + i - 1 });
            this.#state = State.Text;
            continue;
          }
          this.#count(1);
          if (this.#dropLine) this.#dropHold();
          else this.#release(i + 1);
          if (this.#inHeaders && this.#lineEmpty) this.#inHeaders = false;
          this.#state = State.LineStart;
          this.#dropLine = false;
          this.#lineEmpty = true;
          i++;
          continue;
      }
    }
    if (this.#holding) {
      // What is held stays held across the chunk boundary (a few bytes at most).
      for (let k = this.#holdFrom; k < chunk.length; k++) this.#holdPrefix.push(chunk[k] ?? 0);
      this.#holdFrom = 0;
    }
    this.#flush();
    this.#base += chunk.length;
    return { forward: this.#problem === undefined ? this.#pieces : [], rest: undefined };
  }

  #finish(restFrom: number): DataScanResult {
    this.#state = State.Done;
    // The held `.` CR LF is the terminator: never forwarded.
    this.#dropHold();
    this.#flush();
    this.#base += restFrom;
    return { forward: this.#problem === undefined ? this.#pieces : [], rest: this.#chunk.subarray(restFrom) };
  }

  /** The first byte of a line's content (after a stuffing dot, if any) is at `i`; does not consume it. */
  #beginLine(i: number, b: number): void {
    this.#state = State.Text;
    if (this.#inHeaders && this.#problem === undefined && b !== CR) {
      this.#lineEmpty = false;
      if (b === SP || b === HTAB) {
        this.#dropLine = this.#dropField;
      } else {
        this.#name = [];
        this.#hold(i);
        this.#state = State.Name;
        return;
      }
    }
    if (this.#holding) {
      // The stuffing dot: it was not the terminator.
      this.#lineEmpty = false;
      if (this.#dropLine) this.#dropHold();
      else this.#release(i);
    }
  }

  /** One byte (at `i`) of a field name. Returns false when it was not consumed (the field's fate is decided). */
  #nameByte(b: number, i: number): boolean {
    if (b === COLON) {
      this.#decideField(this.#names.some((n) => this.#name.length >= n.length && startsLike(this.#name, n)), i);
      return false;
    }
    if (b === CR || b === LF) {
      // A line without a colon is no header field: kept as it is.
      this.#decideField(false, i);
      return false;
    }
    this.#name.push(b >= 0x41 && b <= 0x5a ? b + 0x20 : b);
    this.#count(1);
    if (!this.#names.some((n) => startsLike(this.#name, n))) this.#decideField(false, i + 1);
    // Only white space after a deleted name, longer than any sane header: treated as that field.
    else if (this.#name.length > this.#maxName) this.#decideField(true, i + 1);
    return true;
  }

  /** The field is deleted or kept; the held name (and stuffing dot) up to chunk index `to` goes with it. */
  #decideField(drop: boolean, to: number): void {
    this.#dropField = drop;
    this.#dropLine = drop;
    this.#name = [];
    this.#state = State.Text;
    if (drop) this.#dropHold();
    else this.#release(to);
  }

  #hold(i: number): void {
    if (this.#holding) return;
    this.#holding = true;
    this.#holdFrom = i;
    this.#holdPrefix = [];
  }

  /** Forwards what is held, up to (not including) chunk index `to`. */
  #release(to: number): void {
    if (!this.#holding) return;
    this.#holding = false;
    if (this.#holdPrefix.length > 0) {
      this.#flush();
      if (this.#problem === undefined) this.#pieces.push(Buffer.from(this.#holdPrefix));
      this.#holdPrefix = [];
    }
    this.#range(this.#holdFrom, to);
  }

  #dropHold(): void {
    this.#holding = false;
    this.#holdPrefix = [];
  }

  #range(from: number, to: number): void {
    if (this.#problem !== undefined || to <= from) return;
    if (this.#to === from) {
      this.#to = to;
      return;
    }
    this.#flush();
    this.#from = from;
    this.#to = to;
  }

  #flush(): void {
    if (this.#from >= 0 && this.#to > this.#from) this.#pieces.push(this.#chunk.subarray(this.#from, this.#to));
    this.#from = -1;
    this.#to = -1;
  }

  #count(n: number): void {
    this.#size += n;
    if (this.#size > this.#max) this.#fail({ kind: 'too-big', limit: this.#max });
  }

  #fail(problem: DataProblem): void {
    if (this.#problem !== undefined) return;
    this.#problem = problem;
    this.#dropHold();
    this.#pieces = [];
    this.#from = -1;
    this.#to = -1;
  }
}

/** `name` (lower-cased as received) is a prefix of `candidate` followed by white space only. */
function startsLike(name: readonly number[], candidate: Buffer): boolean {
  for (let k = 0; k < name.length; k++) {
    const b = name[k];
    if (k < candidate.length) {
      if (b !== candidate[k]) return false;
    } else if (b !== SP && b !== HTAB) {
      return false;
    }
  }
  return true;
}
