// End-of-message modifications: validated when the hook asks, encoded in a safe order at the end.
import { ErrorCode, OnionMxError } from '../errors.ts';
import { ACTION_FLAG } from './negotiate.ts';
import type { ModificationAction } from './types.ts';
import { assertHeaderName, normalizeHeaderValue } from './wire/header-value.ts';
import {
  encodeAddHeader,
  encodeAddRecipient,
  encodeAddRecipientWithArgs,
  encodeChangeFrom,
  encodeChangeHeader,
  encodeDeleteRecipient,
  encodeInsertHeader,
  encodeQuarantine,
  encodeReplaceBody,
} from './wire/replies.ts';

interface HeaderDelete {
  readonly name: string;
  readonly index: number;
}

/**
 * Collects what a filter asks for during end of message and renders the packets in an order that
 * keeps header indices meaningful: changes first, then deletions of each name in reverse index
 * order (Postfix unlinks, so later indices shift; Sendmail marks), then insertions and additions,
 * then envelope changes, the body and quarantine.
 */
export class Modifications {
  readonly #granted: number;
  /** With SMFIP_HDR_LEADSPC requested but not granted the MTA adds the space itself: strip ours. */
  readonly #stripLeadingSpace: boolean;
  #open = true;
  readonly #changes: Buffer[] = [];
  readonly #deletes: HeaderDelete[] = [];
  readonly #additions: Buffer[] = [];
  readonly #envelope: Buffer[] = [];
  #body: Buffer[] | undefined;
  #quarantine: Buffer | undefined;

  constructor(grantedActions: number, stripLeadingSpace: boolean) {
    this.#granted = grantedActions;
    this.#stripLeadingSpace = stripLeadingSpace;
  }

  addHeader(name: string, value: string): void {
    this.#allow('addHeader');
    this.#additions.push(encodeAddHeader(name, this.#value(value)));
  }

  insertHeader(index: number, name: string, value: string): void {
    this.#allow('addHeader');
    this.#additions.push(encodeInsertHeader(nonNegative(index, 'insertHeader index'), name, this.#value(value)));
  }

  changeHeader(name: string, index: number, value: string): void {
    this.#allow('changeHeader');
    // Postfix reads index 0 as 1 ("Sendmail 8 compatibility"); make that explicit for every MTA.
    const i = Math.max(1, nonNegative(index, 'changeHeader index'));
    if (normalizeHeaderValue(value) === '') this.#deletes.push({ name: checkedName(name), index: i });
    else this.#changes.push(encodeChangeHeader(i, name, this.#value(value)));
  }

  deleteHeader(name: string, index: number): void {
    this.#allow('changeHeader');
    this.#deletes.push({ name: checkedName(name), index: Math.max(1, nonNegative(index, 'deleteHeader index')) });
  }

  addRecipient(address: string, args?: string): void {
    if (args === undefined || args === '') {
      this.#allow('addRecipient', 'addRecipientWithArgs');
      // Prefer plain ADDRCPT; fall back to ADDRCPT_PAR when only that was granted.
      this.#envelope.push(this.#has('addRecipient') ? encodeAddRecipient(address) : encodeAddRecipientWithArgs(address));
    } else {
      this.#allow('addRecipientWithArgs');
      this.#envelope.push(encodeAddRecipientWithArgs(address, args));
    }
  }

  deleteRecipient(address: string): void {
    this.#allow('deleteRecipient');
    this.#envelope.push(encodeDeleteRecipient(address));
  }

  changeFrom(address: string, args?: string): void {
    this.#allow('changeFrom');
    this.#envelope.push(encodeChangeFrom(address, args));
  }

  replaceBody(body: Buffer): void {
    this.#allow('replaceBody');
    // Several calls append, as libmilter's repeated smfi_replacebody does.
    (this.#body ??= []).push(Buffer.from(body));
  }

  quarantine(reason: string): void {
    this.#allow('quarantine');
    this.#quarantine = encodeQuarantine(reason);
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Ends collection: later calls throw. Returns the packets in sending order ([] after discard). */
  close(): Buffer[] {
    if (!this.#open) return [];
    this.#open = false;
    const deletes = [...this.#deletes]
      .sort((a, b) => (a.name === b.name ? b.index - a.index : 0))
      .map((d) => encodeChangeHeader(d.index, d.name, ''));
    const out = [...this.#changes, ...deletes, ...this.#additions, ...this.#envelope];
    if (this.#body !== undefined) out.push(...encodeReplaceBody(Buffer.concat(this.#body)));
    if (this.#quarantine !== undefined) out.push(this.#quarantine);
    return out;
  }

  /** Ends collection and drops everything (the hook failed). */
  discard(): void {
    this.#open = false;
  }

  #value(value: string): string {
    return this.#stripLeadingSpace && value.startsWith(' ') ? value.slice(1) : value;
  }

  #has(action: ModificationAction): boolean {
    return (this.#granted & ACTION_FLAG[action]) !== 0;
  }

  /** Throws unless the endOfMessage hook is still running. */
  assertOpen(): void {
    if (!this.#open) {
      throw new OnionMxError(
        ErrorCode.MilterModificationNotAllowed,
        'modifications and progress are only possible while the endOfMessage hook runs',
      );
    }
  }

  #allow(...actions: ModificationAction[]): void {
    this.assertOpen();
    if (!actions.some((a) => this.#has(a))) {
      throw new OnionMxError(
        ErrorCode.MilterModificationNotAllowed,
        `${actions.join(' or ')} was not granted at negotiation (list it in FilterSpec.actions; the MTA must offer it)`,
      );
    }
  }
}

function checkedName(name: string): string {
  assertHeaderName(name);
  return name;
}

function nonNegative(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new OnionMxError(ErrorCode.MilterBadHeader, `${what} must be a non-negative integer, got ${n}`);
  }
  return n;
}
