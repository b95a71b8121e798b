// The static export's three formats: operator maps over the bundled map, conflicts and local
// domains left out and named, parent entries in each MTA's spelling, ports Sendmail cannot carry.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exportStaticMaps, type ExportOptions } from '../../src/lookup/export-format.ts';
import type { StaticMapEntry } from '../../src/resolve/maps/index.ts';

const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const B = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';

const operator: StaticMapEntry[] = [
  { domain: '.sub.example', kind: 'route', onion: A, port: 25, origin: 'ops.yml:3' },
  { domain: 'both.example', kind: 'route', onion: A, port: 25, origin: 'ops.yml:1' },
  { domain: 'odd.example', kind: 'route', onion: B, port: 2525, origin: 'ops.yml:2' },
  { domain: 'twice.example', kind: 'conflict', places: ['ops.yml:4', 'ops.yml:5'] },
  { domain: 'mine.example', kind: 'route', onion: A, port: 25, origin: 'ops.yml:6' },
];
const bundled: StaticMapEntry[] = [
  { domain: 'both.example', kind: 'route', onion: B, port: 25, origin: 'bundled.yml:1' },
  { domain: 'twice.example', kind: 'route', onion: B, port: 25, origin: 'bundled.yml:2' },
  { domain: 'upstream.example', kind: 'route', onion: B, port: 25, origin: 'bundled.yml:3' },
];

function options(format: ExportOptions['format'], more: Partial<ExportOptions> = {}): ExportOptions {
  return {
    format,
    transport: 'smtptor',
    sources: [
      { label: 'maps: ops.yml', entries: operator },
      { label: 'bundled OnionMX map', entries: bundled },
    ],
    parentMatch: false,
    localDomains: ['mine.example'],
    ignoreDomains: [],
    ...more,
  };
}

const body = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('export', () => {
  it('postfix: transport(5) lines, operator pins first, conflicts and local domains left out and named', () => {
    const r = exportStaticMaps(options('postfix'));
    assert.deepEqual(body(r.text), [
      `both.example\tsmtptor:[${A}]:25`,
      `odd.example\tsmtptor:[${B}]:2525`,
      `.sub.example\tsmtptor:[${A}]:25`,
      `upstream.example\tsmtptor:[${B}]:25`,
    ]);
    assert.equal(r.routes, 4);
    assert.match(r.text, /^# onionmx-milter export --format postfix: 4 route\(s\)/);
    assert.match(r.text, /^# {3}maps: ops\.yml\n# {3}bundled OnionMX map$/m);
    assert.match(r.text, /# skipped twice\.example: pinned to different onions at ops\.yml:4 and ops\.yml:5/);
    assert.match(r.text, /# skipped mine\.example: a local or ignored domain/);
    assert.equal(r.skipped, 2);
  });

  it('postfix with relay.postfix_nexthop: every route names the relay (it picks the onion itself), whatever the port', () => {
    const r = exportStaticMaps(options('postfix', { transport: 'onionrelay', relayNexthop: 'unix:/onionmx/relay.sock' }));
    assert.deepEqual(body(r.text), ['both.example', 'odd.example', '.sub.example', 'upstream.example'].map((d) => `${d}\tonionrelay:unix:/onionmx/relay.sock`));
  });

  it('sendmail: mailer:[onion] values; a port other than 25 cannot be written and is left out', () => {
    const r = exportStaticMaps(options('sendmail'));
    assert.deepEqual(body(r.text), [`both.example\tsmtptor:[${A}]`, `.sub.example\tsmtptor:[${A}]`, `upstream.example\tsmtptor:[${B}]`]);
    assert.match(r.text, /# skipped odd\.example: port 2525 cannot be written in a Sendmail mailertable \(ops\.yml:2\)/);
  });

  it('exim: partial-lsearch keys (*.parent) and host lists with doubled colons', () => {
    const r = exportStaticMaps(options('exim'));
    assert.deepEqual(body(r.text), [`both.example: ${A}::25`, `odd.example: ${B}::2525`, `*.sub.example: ${A}::25`, `upstream.example: ${B}::25`]);
  });

  it('map_parent_match: exact entries also route their subdomains, unless a parent entry says otherwise', () => {
    const entries: StaticMapEntry[] = [
      { domain: 'both.example', kind: 'route', onion: A, port: 25, origin: 'x:1' },
      { domain: '.sub.example', kind: 'route', onion: A, port: 25, origin: 'x:2' },
      { domain: 'sub.example', kind: 'route', onion: B, port: 25, origin: 'x:3' },
    ];
    const r = exportStaticMaps(options('postfix', { sources: [{ label: 'm', entries }], parentMatch: true }));
    assert.deepEqual(body(r.text), [`both.example\tsmtptor:[${A}]:25`, `.both.example\tsmtptor:[${A}]:25`, `sub.example\tsmtptor:[${B}]:25`, `.sub.example\tsmtptor:[${A}]:25`]);
  });
});
