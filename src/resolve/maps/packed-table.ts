// A compiled map table (domain -> answer) in a form that crosses threads without being cloned
// entry by entry and that the garbage collector never walks: one string of records
// `domain \t JSON answer`, their start offsets and an open-addressing hash index, both in
// transferable ArrayBuffers. Handing a Map of 50,000 answer objects to the daemon's thread cost it
// a structured-clone of 200,000 objects, their promotion to the old generation and, at the next
// reload, a major GC of the old map: 77-420 ms without answering. This costs a string copy.
import type { StaticLookup } from './types.ts';

/** What a map table needs to answer lookups and list its entries; a Map is one too. */
export interface LookupTable {
  readonly size: number;
  get(name: string): StaticLookup | undefined;
  entries(): Iterable<readonly [string, StaticLookup]>;
}

/** A packed table as plain data: post it with `transfer: [starts, slots]`. */
export interface PackedTableData {
  readonly text: string;
  /** Int32: record i is text[starts[i], starts[i + 1]). */
  readonly starts: ArrayBuffer;
  /** Int32, a power of two long: record index + 1, or 0 for an empty slot. */
  readonly slots: ArrayBuffer;
}

const TAB = 9;

export function packTable(table: Iterable<readonly [string, StaticLookup]>): PackedTableData {
  const records: string[] = [];
  for (const [name, answer] of table) records.push(`${name}\t${JSON.stringify(answer)}`);
  const starts = new Int32Array(records.length + 1);
  let at = 0;
  records.forEach((record, i) => {
    starts[i] = at;
    at += record.length;
  });
  starts[records.length] = at;
  const slots = new Int32Array(slotCount(records.length));
  const mask = slots.length - 1;
  records.forEach((record, i) => {
    let slot = hashName(record, 0, record.indexOf('\t')) & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = i + 1;
  });
  return { text: records.join(''), starts: starts.buffer, slots: slots.buffer };
}

export function unpackTable(data: PackedTableData): LookupTable {
  return new PackedTable(data.text, new Int32Array(data.starts), new Int32Array(data.slots));
}

/** At most half full, so a probe for a missing name stops soon. */
function slotCount(records: number): number {
  let n = 8;
  while (n < records * 2) n *= 2;
  return n;
}

/** FNV-1a over UTF-16 code units of text[from, to). */
function hashName(text: string, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

class PackedTable implements LookupTable {
  readonly size: number;
  readonly #text: string;
  readonly #starts: Int32Array;
  readonly #slots: Int32Array;

  constructor(text: string, starts: Int32Array, slots: Int32Array) {
    this.#text = text;
    this.#starts = starts;
    this.#slots = slots;
    this.size = starts.length - 1;
  }

  get(name: string): StaticLookup | undefined {
    const mask = this.#slots.length - 1;
    for (let slot = hashName(name, 0, name.length) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.#slots[slot] ?? 0;
      if (entry === 0) return undefined;
      const start = this.#starts[entry - 1] ?? 0;
      if (this.#text.charCodeAt(start + name.length) === TAB && this.#text.startsWith(name, start)) return this.#answer(entry - 1, start + name.length + 1);
    }
  }

  *entries(): Iterable<readonly [string, StaticLookup]> {
    for (let i = 0; i < this.size; i++) {
      const start = this.#starts[i] ?? 0;
      const tab = this.#text.indexOf('\t', start);
      yield [this.#text.slice(start, tab), this.#answer(i, tab + 1)];
    }
  }

  #answer(record: number, from: number): StaticLookup {
    const answer = JSON.parse(this.#text.slice(from, this.#starts[record + 1])) as StaticLookup;
    if (answer.kind === 'conflict') Object.freeze(answer.places);
    return Object.freeze(answer);
  }
}
