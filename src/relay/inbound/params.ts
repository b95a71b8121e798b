// MAIL and RCPT arguments -> the envelope the relay carries (src/relay/envelope.ts), with the reply
// for anything it cannot carry: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET, ENVID,
// NOTIFY and ORCPT (RFC 3461). Unknown parameters are refused (555 5.5.4), never dropped: the
// relay passes on exactly what it understood. Pure.
import type { BodyType, DsnNotify, MailCommand, MailParams, RcptCommand, RcptParams, SmtpReply } from '../envelope.ts';
import { parseRecipient } from '../../resolve/address.ts';
import type { EsmtpParam } from './command.ts';
import { isXtext } from './command.ts';
import { ownReply } from './reply.ts';

export interface MailContext {
  /** EHLO or LHLO was used (after HELO no parameters are allowed). */
  readonly extended: boolean;
  readonly maxMessageSize: number;
}

export type MailParse = { readonly ok: true; readonly command: MailCommand } | { readonly ok: false; readonly reply: SmtpReply };

export interface RcptContext {
  readonly extended: boolean;
  /** The transaction's MAIL had SMTPUTF8: the address may be UTF-8. */
  readonly smtputf8: boolean;
}

export type RcptParse =
  | { readonly ok: true; readonly command: RcptCommand; readonly domain: string }
  | { readonly ok: false; readonly reply: SmtpReply };

/** RFC 3461 §4.4. */
const MAX_ENVID = 100;
/** RFC 3461 §4.2: ORCPT's value is at most 500 characters. */
const MAX_ORCPT = 500;

export function mailCommand(path: string, params: readonly EsmtpParam[], ctx: MailContext): MailParse {
  if (params.length > 0 && !ctx.extended) return refuse(555, '5.5.4', 'MAIL parameters need EHLO');
  const out: { -readonly [K in keyof MailParams]: MailParams[K] } = {};
  for (const { keyword, value } of params) {
    switch (keyword) {
      case 'SIZE':
        if (value === undefined || !/^\d{1,20}$/.test(value)) return refuse(501, '5.5.4', 'Syntax: SIZE=<octets>');
        out.size = Number(value);
        if (out.size > ctx.maxMessageSize) return refuse(552, '5.3.4', `Message size exceeds fixed maximum message size (${ctx.maxMessageSize} octets)`);
        break;
      case 'BODY': {
        const body = value?.toUpperCase();
        if (body === 'BINARYMIME') return refuse(555, '5.5.4', 'BODY=BINARYMIME needs CHUNKING, which this relay does not offer');
        if (body !== '7BIT' && body !== '8BITMIME') return refuse(501, '5.5.4', 'Syntax: BODY=7BIT or BODY=8BITMIME');
        out.body = body satisfies BodyType;
        break;
      }
      case 'SMTPUTF8':
        if (value !== undefined) return refuse(501, '5.5.4', 'SMTPUTF8 takes no value');
        out.smtputf8 = true;
        break;
      case 'RET': {
        const ret = value?.toUpperCase();
        if (ret !== 'FULL' && ret !== 'HDRS') return refuse(501, '5.5.4', 'Syntax: RET=FULL or RET=HDRS');
        out.ret = ret;
        break;
      }
      case 'ENVID':
        if (value === undefined || value.length > MAX_ENVID || !isXtext(value)) return refuse(501, '5.5.4', `Syntax: ENVID=<xtext of at most ${MAX_ENVID} characters>`);
        out.envid = value;
        break;
      default:
        return refuse(555, '5.5.4', `MAIL parameter ${keyword} is not supported`);
    }
  }
  const mailbox = withoutSourceRoute(path);
  if (mailbox === '' && path !== '') return refuse(501, '5.1.7', 'Bad sender address syntax: a source route without a mailbox');
  if (!isAscii(mailbox) && out.smtputf8 !== true) return refuse(553, '5.6.7', 'A non-ASCII sender address needs the SMTPUTF8 parameter');
  if (mailbox !== '') {
    const parsed = parseRecipient(mailbox);
    if (!parsed.ok && parsed.kind !== 'ip-literal') return refuse(501, '5.1.7', `Bad sender address syntax: ${parsed.reason}`);
    if (parsed.ok && parsed.localPart === undefined) return refuse(501, '5.1.7', 'Bad sender address syntax: no local part');
  }
  return { ok: true, command: { reversePath: mailbox, params: out } };
}

export function rcptCommand(path: string, params: readonly EsmtpParam[], ctx: RcptContext): RcptParse {
  if (params.length > 0 && !ctx.extended) return refuse(555, '5.5.4', 'RCPT parameters need EHLO');
  const out: { -readonly [K in keyof RcptParams]: RcptParams[K] } = {};
  for (const { keyword, value } of params) {
    switch (keyword) {
      case 'NOTIFY': {
        const notify = parseNotify(value);
        if (notify === undefined) return refuse(501, '5.5.4', 'Syntax: NOTIFY=NEVER or NOTIFY=SUCCESS,FAILURE,DELAY (any of them)');
        out.notify = notify;
        break;
      }
      case 'ORCPT':
        if (value === undefined || !isOrcpt(value)) return refuse(501, '5.5.4', 'Syntax: ORCPT=<address type>;<xtext>');
        out.orcpt = value;
        break;
      default:
        return refuse(555, '5.5.4', `RCPT parameter ${keyword} is not supported`);
    }
  }
  const mailbox = withoutSourceRoute(path);
  if (mailbox === '') return refuse(501, '5.1.3', 'Bad recipient address syntax: empty address');
  if (!isAscii(mailbox) && !ctx.smtputf8) return refuse(553, '5.6.7', 'A non-ASCII recipient address needs SMTPUTF8 on MAIL');
  const parsed = parseRecipient(mailbox);
  if (!parsed.ok) {
    if (parsed.kind === 'ip-literal') return refuse(550, '5.1.2', `An address literal names no onion: this relay delivers only to onion-routed domains (${parsed.reason})`);
    return refuse(501, '5.1.3', `Bad recipient address syntax: ${parsed.reason}`);
  }
  if (parsed.localPart === undefined) return refuse(550, '5.1.1', 'No mailbox here: this relay delivers only to addresses in onion-routed domains');
  return { ok: true, command: { forwardPath: mailbox, params: out }, domain: parsed.domain };
}

const NOTIFY_VALUES: readonly DsnNotify[] = ['SUCCESS', 'FAILURE', 'DELAY'];

function parseNotify(value: string | undefined): readonly DsnNotify[] | undefined {
  if (value === undefined) return undefined;
  const words = value.toUpperCase().split(',');
  if (words.length === 1 && words[0] === 'NEVER') return ['NEVER'];
  const out: DsnNotify[] = [];
  for (const w of words) {
    const known = NOTIFY_VALUES.find((v) => v === w);
    if (known === undefined || out.includes(known)) return undefined;
    out.push(known);
  }
  return out;
}

/** `rfc822;<xtext>`, or RFC 6533's `utf-8;<utf-8-addr-xtext>` (UTF-8 and `\x{HEX}` allowed). */
function isOrcpt(value: string): boolean {
  if (value.length > MAX_ORCPT) return false;
  const semi = value.indexOf(';');
  if (semi <= 0 || semi === value.length - 1) return false;
  const type = value.slice(0, semi);
  const address = value.slice(semi + 1);
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(type)) return false;
  if (type.toLowerCase() === 'utf-8') return /^(?:[!-*,-<>-~]|\+[0-9A-F]{2}|[^\p{ASCII}])+$/u.test(address);
  return isXtext(address);
}

/** RFC 5321 §4.1.1.3: servers accept source routes (`@a,@b:user@domain`) and ignore them. */
function withoutSourceRoute(path: string): string {
  if (!path.startsWith('@')) return path;
  const colon = path.indexOf(':');
  return colon < 0 ? path : path.slice(colon + 1);
}

function isAscii(text: string): boolean {
  return /^\p{ASCII}*$/u.test(text);
}

function refuse(code: number, enhanced: string, text: string): { readonly ok: false; readonly reply: SmtpReply } {
  return { ok: false, reply: ownReply(code, enhanced, text) };
}
