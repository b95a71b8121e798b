// Collects the daemon's JSON lines and hands them to the output stream in batches.
//
// pino's SonicBoom measures the bytes of every line it is given and of the batch it is growing
// (Buffer.byteLength twice per write), which under load is most of what a log line costs; with
// one info line per message that showed in the milter's throughput. Here a line costs a string
// append; SonicBoom still does the writing (partial writes, EAGAIN, EPIPE, flush on exit), once
// per batch.

/** The part of SonicBoom this needs. */
export interface LineSink {
  write(data: string): boolean;
  flushSync(): void;
}

export class LineBatcher {
  readonly #sink: LineSink;
  readonly #batchChars: number;
  #pending = '';

  constructor(sink: LineSink, batchChars: number) {
    this.#sink = sink;
    this.#batchChars = batchChars;
  }

  /** pino's destination interface: one serialised line, newline included. */
  write(line: string): boolean {
    this.#pending += line;
    if (this.#pending.length >= this.#batchChars) this.flush();
    return true;
  }

  /** Hands what is pending to the sink (which writes it when it can). */
  flush(): void {
    if (this.#pending === '') return;
    const batch = this.#pending;
    this.#pending = '';
    this.#sink.write(batch);
  }

  /** Hands over what is pending and has the sink write everything before returning. */
  flushSync(): void {
    this.flush();
    this.#sink.flushSync();
  }
}
