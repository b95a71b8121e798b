import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { negotiate, type Offer } from '../../src/milter/negotiate.ts';
import { Action, Proto } from '../../src/milter/wire/constants.ts';
import type { FilterHandler, FilterSpec } from '../../src/milter/types.ts';

const allHooks: FilterHandler = {
  connect: () => undefined, helo: () => undefined, mailFrom: () => undefined, rcptTo: () => undefined,
  data: () => undefined, header: () => undefined, endOfHeaders: () => undefined, body: () => undefined,
  endOfMessage: () => undefined, unknown: () => undefined,
};
const spec = (extra: Partial<FilterSpec> = {}): FilterSpec => ({ actions: [], open: () => ({}), ...extra });
const v6: Offer = { version: 6, actions: 0x1ff, protocol: 0x1fffff };

function ok(offer: Offer, s: FilterSpec, h: FilterHandler = allHooks) {
  const r = negotiate(offer, s, h);
  assert.ok(r.ok);
  return r.result;
}

describe('negotiation (reference §5.10)', () => {
  it('answers min(offered, 6) for MTA versions 2, 3, 4, 6 and 8 and refuses < 2', () => {
    for (const [offered, want] of [[2, 2], [3, 3], [4, 4], [6, 6], [8, 6]] as const) {
      assert.equal(ok({ ...v6, version: offered }, spec()).version, want);
    }
    for (const bad of [0, 1]) {
      const r = negotiate({ ...v6, version: bad }, spec(), allHooks);
      assert.equal(r.ok, false);
    }
  });

  it('requests only offered actions, drops (and reports) the rest', () => {
    const r = ok({ ...v6, actions: Action.addHeaders | Action.deleteRecipient }, spec({ actions: ['addHeader', 'changeHeader', 'deleteRecipient'] }));
    assert.equal(r.actions, Action.addHeaders | Action.deleteRecipient);
    assert.deepEqual(r.droppedActions, ['changeHeader']);
  });

  it('an MTA offering 0 actions/protocol means the V1 defaults (0x0F / 0x3F)', () => {
    const r = ok({ version: 2, actions: 0, protocol: 0 }, spec({ actions: ['addHeader', 'changeHeader', 'quarantine'] }), {});
    assert.equal(r.actions, Action.addHeaders);
    assert.equal(r.protocol, 0x3f);
  });

  it('drops bits a lower version does not define', () => {
    const r = ok({ version: 2, actions: 0x1ff, protocol: 0x1fffff }, spec({ actions: ['changeFrom', 'addHeader'], headerLeadingSpace: true, noReply: ['rcpt'] }), {});
    assert.equal(r.actions, Action.addHeaders);
    assert.equal(r.protocol, 0x7f);
    const v4 = ok({ version: 4, actions: 0x1ff, protocol: 0x1fffff }, spec(), {});
    assert.equal(v4.protocol, 0x37f);
  });

  it('asks for NO* bits exactly for the hooks the handler lacks', () => {
    const r = ok(v6, spec(), { rcptTo: () => undefined, endOfMessage: () => undefined });
    const no = Proto.noConnect | Proto.noHelo | Proto.noMail | Proto.noBody | Proto.noHeaders | Proto.noEndOfHeaders | Proto.noUnknown | Proto.noData;
    assert.equal(r.protocol & 0x37f, no);
    assert.equal(r.protocol & Proto.noRcpt, 0);
    assert.equal(r.protocol & Proto.skip, 0, 'no SKIP without a body hook');
    assert.equal(ok(v6, spec()).protocol & 0x37f & ~Proto.noReplyHeader, 0);
  });

  it('asks for NR bits for spec.noReply events, only when offered', () => {
    const s = spec({ noReply: ['header', 'rcpt', 'connect'] });
    const r = ok(v6, s);
    assert.equal(r.protocol & (Proto.noReplyHeader | Proto.noReplyRcpt | Proto.noReplyConnect), Proto.noReplyHeader | Proto.noReplyRcpt | Proto.noReplyConnect);
    assert.equal(r.protocol & Proto.noReplyMail, 0);
    const limited = ok({ ...v6, protocol: 0x1fffff & ~Proto.noReplyRcpt }, s);
    assert.equal(limited.protocol & Proto.noReplyRcpt, 0);
  });

  it('SMFIP_SKIP only with a body hook and when offered; RCPT_REJ only when asked; HDR_LEADSPC when asked and offered', () => {
    assert.ok(ok(v6, spec()).protocol & Proto.skip);
    assert.equal(ok({ ...v6, protocol: 0x1fffff & ~Proto.skip }, spec()).protocol & Proto.skip, 0);
    assert.equal(ok(v6, spec()).protocol & Proto.rejectedRecipients, 0);
    assert.ok(ok(v6, spec({ rejectedRecipients: true })).protocol & Proto.rejectedRecipients);
    assert.equal(ok(v6, spec()).protocol & Proto.headerLeadingSpace, 0);
    assert.ok(ok(v6, spec({ headerLeadingSpace: true })).protocol & Proto.headerLeadingSpace);
    assert.equal(ok({ ...v6, protocol: 0x1fffff & ~Proto.headerLeadingSpace }, spec({ headerLeadingSpace: true })).protocol & Proto.headerLeadingSpace, 0);
  });

  it('symbol lists only with SETSYMLIST offered at version 6, never empty, deduplicated', () => {
    const s = spec({ macros: { rcpt: ['{rcpt_mailer}', '{rcpt_mailer}', 'i'], eom: [], connect: [''] } });
    const r = ok(v6, s);
    assert.deepEqual([...r.symbolLists], [[3, ['{rcpt_mailer}', 'i']]]);
    assert.ok(r.actions & Action.setSymbolList);
    const noSym = ok({ ...v6, actions: 0xff }, s);
    assert.equal(noSym.symbolLists.size, 0);
    assert.equal(noSym.actions & Action.setSymbolList, 0);
    assert.equal(ok({ ...v6, version: 4 }, s).symbolLists.size, 0);
    const none = ok(v6, spec({ macros: { eom: [] } }));
    assert.equal(none.actions & Action.setSymbolList, 0);
  });
});
