// Macros by stage with libmilter semantics (engine.c st_macros / mi_clr_macros, smfi.c smfi_getsymval).
import type { MacroView } from './types.ts';

/** Stage slots in libmilter's order (CI_CONN .. CI_EOH); later slots are cleared by earlier commands. */
const SLOT: Readonly<Record<string, number>> = { C: 0, H: 1, M: 2, R: 3, T: 4, E: 5, N: 6 };
/** Lookup precedence: the latest stage first (EOM and EOH are numerically swapped in libmilter). */
const LOOKUP_ORDER = [5, 6, 4, 3, 2, 1, 0] as const;
const SLOT_COUNT = 7;
const RCPT_SLOT = 3;

/** `{x}` and `x` are one macro; stored under the bare name. */
export function macroKey(name: string): string {
  return name.length > 2 && name.startsWith('{') && name.endsWith('}') ? name.slice(1, -1) : name;
}

/** The canonical spelling: one-letter names bare (`i`), longer names braced (`{rcpt_addr}`). */
export function macroDisplayName(key: string): string {
  return key.length === 1 ? key : `{${key}}`;
}

type Slot = Map<string, string>;

export class MacroStore implements MacroView {
  readonly #slots: (Slot | undefined)[] = new Array<Slot | undefined>(SLOT_COUNT).fill(undefined);
  /** Postfix's D-L, D-B, D-U (and any unknown stage tag): visible for the next command only. */
  #transient: Slot | undefined;

  /** An SMFIC_MACRO packet: replaces the set of its stage (or the transient set). */
  define(stage: string, pairs: readonly (readonly [string, string])[]): void {
    const slot: Slot = new Map();
    for (const [name, value] of pairs) slot.set(macroKey(name), value);
    const idx = SLOT[stage];
    if (idx === undefined) this.#transient = slot;
    else this.#slots[idx] = slot;
  }

  /** Called when a command arrives: C/H/M/R clear every later stage (mi_clr_macros(ctx, idx + 1)). */
  commandArrived(stage: string): void {
    const idx = SLOT[stage];
    if (idx === undefined || idx > RCPT_SLOT) return;
    for (let i = idx + 1; i < SLOT_COUNT; i++) this.#slots[i] = undefined;
  }

  /** Called after a command was handled: the transient set expires. */
  commandDone(): void {
    this.#transient = undefined;
  }

  clearAll(): void {
    this.#slots.fill(undefined);
    this.#transient = undefined;
  }

  get(name: string): string | undefined {
    const key = macroKey(name);
    const t = this.#transient?.get(key);
    if (t !== undefined) return t;
    for (const i of LOOKUP_ORDER) {
      const v = this.#slots[i]?.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  all(): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    const layers = [...LOOKUP_ORDER].reverse().map((i) => this.#slots[i]);
    layers.push(this.#transient);
    for (const layer of layers) {
      for (const [k, v] of layer ?? []) out.set(macroDisplayName(k), v);
    }
    return out;
  }
}
