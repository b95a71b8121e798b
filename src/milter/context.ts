// The objects hooks receive: one SessionContext per connection, one EndOfMessageContext per EOM.
import type { Logger } from '../log.ts';
import type { Modifications } from './modifications.ts';
import type { EndOfMessageContext, MacroView, SessionContext } from './types.ts';

/** What the session exposes to its contexts (kept narrow so contexts cannot drive the session). */
export interface ContextSource {
  readonly id: string;
  readonly macros: MacroView;
  readonly log: Logger;
  readonly version: number;
  readonly signal: AbortSignal;
  readonly headerLeadingSpace: boolean;
}

export class HookContext implements SessionContext {
  readonly #src: ContextSource;
  constructor(src: ContextSource) {
    this.#src = src;
  }
  get id(): string {
    return this.#src.id;
  }
  get macros(): MacroView {
    return this.#src.macros;
  }
  get log(): Logger {
    return this.#src.log;
  }
  get version(): number {
    return this.#src.version;
  }
  get signal(): AbortSignal {
    return this.#src.signal;
  }
  get headerLeadingSpace(): boolean {
    return this.#src.headerLeadingSpace;
  }
}

export class EomContext extends HookContext implements EndOfMessageContext {
  readonly #mods: Modifications;
  readonly #progress: () => void;

  constructor(src: ContextSource, mods: Modifications, progress: () => void) {
    super(src);
    this.#mods = mods;
    this.#progress = progress;
  }
  addHeader(name: string, value: string): void {
    this.#mods.addHeader(name, value);
  }
  insertHeader(index: number, name: string, value: string): void {
    this.#mods.insertHeader(index, name, value);
  }
  changeHeader(name: string, index: number, value: string): void {
    this.#mods.changeHeader(name, index, value);
  }
  deleteHeader(name: string, index: number): void {
    this.#mods.deleteHeader(name, index);
  }
  addRecipient(address: string, args?: string): void {
    this.#mods.addRecipient(address, args);
  }
  deleteRecipient(address: string): void {
    this.#mods.deleteRecipient(address);
  }
  changeFrom(address: string, args?: string): void {
    this.#mods.changeFrom(address, args);
  }
  replaceBody(body: Buffer): void {
    this.#mods.replaceBody(body);
  }
  quarantine(reason: string): void {
    this.#mods.quarantine(reason);
  }
  progress(): void {
    this.#mods.assertOpen();
    this.#progress();
  }
}
