// Writes made in one event-loop turn leave as one write(2): the socket is corked at the first
// write of a turn and uncorked in setImmediate, after every callback of this I/O phase (and the
// promise continuations they started) had its say. Order and content are unchanged; only the
// number of system calls (and of the peer's wake-ups) falls. A process.nextTick uncork would be
// too early: the session's continuations run as promise jobs after the tick queue.
import type { Writable } from 'node:stream';

export class CoalescingWriter {
  readonly #stream: Writable;
  #corked = false;

  constructor(stream: Writable) {
    this.#stream = stream;
  }

  /** Same return as stream.write: false when the caller should wait for 'drain'. */
  write(chunk: string | Uint8Array): boolean {
    if (!this.#corked) {
      this.#corked = true;
      this.#stream.cork();
      setImmediate(this.#uncork);
    }
    return this.#stream.write(chunk);
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    if (!this.#stream.destroyed) this.#stream.uncork();
  };
}
