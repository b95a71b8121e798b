// A compiled map table (domain -> answer) in a form that crosses threads without being cloned
// entry by entry and that the garbage collector never walks: UTF-8 records `domain \t JSON answer`,
// their start offsets and an open-addressing hash index, three transferable ArrayBuffers off the
// heap. Handing a Map of 50,000 answer objects to the daemon's thread cost it a structured clone of
// 200,000 objects, their promotion to the old generation and, at the next reload, a major GC of the
// old map: 77-420 ms without answering. Even one 10 MB string copied in grows the old generation
// enough to start a major GC; transferred buffers cost nothing. The price is a lookup that decodes
// its answer (about 2.5 us instead of 0.44).
import type { StaticLookup } from './types.ts';

/** What a map table needs to answer lookups and list its entries; a Map is one too. */
export interface LookupTable {
  readonly size: number;
  get(name: string): StaticLookup | undefined;
  entries(): Iterable<readonly [string, StaticLookup]>;
}

/** A packed table as plain data: post it with `transfer: [bytes, starts, slots]`. */
export interface PackedTableData {
  /** UTF-8 records `name \t JSON answer`, back to back. */
  readonly bytes: ArrayBuffer;
  /** Int32: record i is bytes[starts[i], starts[i + 1]). */
  readonly starts: ArrayBuffer;
  /** Int32, a power of two long: record index + 1, or 0 for an empty slot. */
  readonly slots: ArrayBuffer;
}

const TAB = 9;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function packTable(table: Iterable<readonly [string, StaticLookup]>): PackedTableData {
  const names: Uint8Array[] = [];
  const answers: Uint8Array[] = [];
  for (const [name, answer] of table) {
    names.push(utf8.encode(name));
    answers.push(utf8.encode(JSON.stringify(answer)));
  }
  const starts = new Int32Array(names.length + 1);
  let at = 0;
  names.forEach((name, i) => {
    starts[i] = at;
    at += name.length + 1 + (answers[i]?.length ?? 0);
  });
  starts[names.length] = at;
  const bytes = new Uint8Array(at);
  const slots = new Int32Array(slotCount(names.length));
  const mask = slots.length - 1;
  names.forEach((name, i) => {
    const start = starts[i] ?? 0;
    bytes.set(name, start);
    bytes[start + name.length] = TAB;
    bytes.set(answers[i] ?? new Uint8Array(), start + name.length + 1);
    let slot = hashBytes(name) & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = i + 1;
  });
  return { bytes: bytes.buffer, starts: starts.buffer, slots: slots.buffer };
}

export function unpackTable(data: PackedTableData): LookupTable {
  return new PackedTable(new Uint8Array(data.bytes), new Int32Array(data.starts), new Int32Array(data.slots));
}

/** At most half full, so a probe for a missing name stops soon. */
function slotCount(records: number): number {
  let n = 8;
  while (n < records * 2) n *= 2;
  return n;
}

/** FNV-1a. */
function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

class PackedTable implements LookupTable {
  readonly size: number;
  readonly #bytes: Uint8Array;
  readonly #starts: Int32Array;
  readonly #slots: Int32Array;

  constructor(bytes: Uint8Array, starts: Int32Array, slots: Int32Array) {
    this.#bytes = bytes;
    this.#starts = starts;
    this.#slots = slots;
    this.size = starts.length - 1;
  }

  get(name: string): StaticLookup | undefined {
    const wanted = utf8.encode(name);
    const mask = this.#slots.length - 1;
    for (let slot = hashBytes(wanted) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.#slots[slot] ?? 0;
      if (entry === 0) return undefined;
      const start = this.#starts[entry - 1] ?? 0;
      if (this.#bytes[start + wanted.length] === TAB && this.#holdsAt(start, wanted)) return this.#answer(entry - 1, start + wanted.length + 1);
    }
  }

  *entries(): Iterable<readonly [string, StaticLookup]> {
    for (let i = 0; i < this.size; i++) {
      const start = this.#starts[i] ?? 0;
      const tab = this.#bytes.indexOf(TAB, start);
      yield [fromUtf8.decode(this.#bytes.subarray(start, tab)), this.#answer(i, tab + 1)];
    }
  }

  #holdsAt(start: number, wanted: Uint8Array): boolean {
    for (let i = 0; i < wanted.length; i++) if (this.#bytes[start + i] !== wanted[i]) return false;
    return true;
  }

  #answer(record: number, from: number): StaticLookup {
    const answer = JSON.parse(fromUtf8.decode(this.#bytes.subarray(from, this.#starts[record + 1]))) as StaticLookup;
    if (answer.kind === 'conflict') Object.freeze(answer.places);
    return Object.freeze(answer);
  }
}
