import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStaticMaps, loadStaticMapsSync } from '../../../src/resolve/maps/index.ts';
import type { MapProblem, StaticMap } from '../../../src/resolve/maps/index.ts';

// Compiled to dist/test/resolve/maps/; the fixtures stay in the source tree.
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/maps/', import.meta.url));
const UPSTREAM = join(FIXTURES, 'onionmx-map.yml');
const NATIVE = join(FIXTURES, 'native.yml');

const V3_A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const V3_B = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';

const UPSTREAM_V2: readonly (readonly [onion: string, line: number, domains: readonly string[]])[] = [
  ['blackhost5xlrhev.onion', 21, []],
  ['4my2dd2okjr75aho.onion', 24, ['calyx.com', 'calyxinstitute.org']],
  ['cssj56utefk3wxsv.onion', 27, ['boum.org']],
  ['lloiryev7cvzszsn.onion', 35, ['espiv.net']],
  ['mssatgg2rwa4aytk.onion', 40, ['anargeek.net', 'irq7.fr', 'pimienta.org', 'poivron.org', 'potager.org', 'sweetpepper.org']],
  ['tyiw2fzn3uckv2my.onion', 47, ['espora.org']],
  ['zq36q5rfxd3cnvd5.onion', 76, ['lists.espiv.net']],
];

const UPSTREAM_V3: Readonly<Record<string, readonly (readonly [domain: string, line: number])[]>> = {
  'blackhost7pws76u6vohksdahnm6adf7riukgcmahrwt43wv2drvyxid.onion': [['blackhost.xyz', 23]],
  'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion': [['systemli.org', 30]],
  'abupq2yypwtojgupttylrbwnabmpmydsf4evb2onasmib2go23jyyhqd.onion': [['koumbit.org', 32]],
  'asgsory2hji5qpkmgyig2nzquolu5qhsfhz2qaiixdfgivzxlhrahzyd.onion': [['sindominio.net', 34]],
  'xibrfarp4uiwgjrfwbefue6kwlglxxdnfkiebbxcenm4qgg6vcnweqid.onion': [['mail36.net', 38], ['so36.net', 39]],
  '6powteszncqwdutlfs57n33i2zqt6jqc2wdcneaihtvrzaps3q3qtwyd.onion': [['lelutin.ca', 50]],
  'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion': [['riseup.net', 52]],
  '7sbw6jufrirhyltzkslhcmkik4z7yrsmbpnptyritvz5nhbk35hncsqd.onion': [['lists.riseup.net', 54]],
  'w5ejy7xyv4dw7jul7bycfnltircxddt7vqprcxe6uggnezlwwic72qqd.onion': [
    'brief.li', 'cronopios.org', 'cryptomail.ch', 'einfachsicher.ch', 'glei.ch', 'immer-da.ch', 'immerda.ch',
    'linksunten.ch', 'lists.immerda.ch', 'muh-vie.ch', 'muhvie.ch', 'paratodastodo.net', 'paratodastodo.org',
    'paratodostodo.org', 'politischkorrekt.ch', 'sicheremail.ch', 'sichermail.ch', 'supernormal.net',
    'ungehorsam.ch', 'untenlinks.ch',
  ].map((domain, index) => [domain, 56 + index] as const),
};

function codes(map: StaticMap): string[] {
  return map.problems.map((p) => p.code);
}

function only(map: StaticMap, code: MapProblem['code']): MapProblem {
  const found = map.problems.filter((p) => p.code === code);
  assert.equal(found.length, 1, `expected one ${code}, got ${JSON.stringify(map.problems, null, 1)}`);
  return found[0]!;
}

describe('loading the upstream OnionMX map', () => {
  let map: StaticMap;
  before(async () => {
    map = await loadStaticMaps([UPSTREAM]);
  });

  it('is the byte-exact upstream file', () => {
    const hash = createHash('sha256').update(readFileSync(UPSTREAM)).digest('hex');
    assert.equal(hash, 'f639160d062cbfee00346abde75fcc7736f335ad4bd0335666f031de6e397c39');
  });

  it('routes the 29 domains of its 9 v3 onions, each with its own file:line origin', () => {
    assert.deepEqual(map.stats, { files: 1, onions: 9, domains: 29, skipped: 12, skippedOnions: 7, conflicts: 0 });
    for (const [onion, domains] of Object.entries(UPSTREAM_V3)) {
      for (const [domain, line] of domains) {
        assert.deepEqual(map.lookup(domain), { kind: 'route', onion, port: 25, origin: `${UPSTREAM}:${line}`, matched: domain });
      }
    }
    assert.equal(map.entries().length, 29);
    assert.ok(map.isComplete);
  });

  it('skips its 7 v2 keys with one warning each naming file, line and reason', () => {
    const v2 = map.problems.filter((p) => p.code === 'v2-onion');
    assert.deepEqual(
      v2.map((p) => [p.file, p.line, p.severity]),
      UPSTREAM_V2.map(([, line]) => [UPSTREAM, line, 'warning']),
    );
    for (const [index, [onion, line, domains]] of UPSTREAM_V2.entries()) {
      const problem = v2[index]!;
      assert.ok(problem.message.startsWith(`${UPSTREAM}:${line}: `), problem.message);
      assert.match(problem.reason, /v2 onion services no longer work in Tor/);
      assert.ok(problem.reason.includes(onion));
      for (const domain of domains) assert.ok(problem.reason.includes(domain), `${domain} named in ${problem.reason}`);
    }
    assert.deepEqual(codes(map), UPSTREAM_V2.map(() => 'v2-onion'), 'nothing else is reported');
  });

  it('handles the null value without crashing and says so', () => {
    const nullKey = map.problems.find((p) => p.line === 21);
    assert.match(nullKey?.reason ?? '', /null value/);
  });

  it('gives the 12 domains on v2 onions no static route', () => {
    const unrouted = UPSTREAM_V2.flatMap(([, , domains]) => domains);
    assert.equal(unrouted.length, 12);
    for (const domain of unrouted) assert.deepEqual(map.lookup(domain), { kind: 'none' }, domain);
    assert.deepEqual(map.lookup('boum.org'), { kind: 'none' });
  });

  it('loads the same way synchronously', () => {
    const sync = loadStaticMapsSync([UPSTREAM]);
    assert.deepEqual(sync.stats, map.stats);
    assert.deepEqual(sync.problems, map.problems);
    assert.deepEqual(sync.entries(), map.entries());
  });
});

describe('loading the native example map', () => {
  it('loads without any problem and routes each kind of entry', () => {
    const map = loadStaticMapsSync([NATIVE]);
    assert.deepEqual(map.problems, []);
    assert.deepEqual(map.stats, { files: 1, onions: 5, domains: 5, skipped: 0, skippedOnions: 0, conflicts: 0 });
    assert.deepEqual(map.lookup('example.org'), { kind: 'route', onion: V3_A, port: 25, origin: `${NATIVE}:17`, matched: 'example.org' });
    assert.deepEqual(map.lookup('EXAMPLE.NET.'), { kind: 'route', onion: V3_B, port: 2525, origin: `${NATIVE}:19`, matched: 'example.net' });
    assert.equal(map.lookup('mx.eu.example.com').kind, 'route');
    assert.equal(map.lookup('example.com').kind, 'none', 'a parent entry does not match the parent itself');
    const lists = map.lookup('lists.example.com');
    assert.ok(lists.kind === 'route');
    assert.equal(lists.matched, 'lists.example.com', 'the exact entry beats the parent entry');
    assert.equal(map.lookup('bücher.example').kind, 'route');
    assert.equal(map.lookup('xn--bcher-kva.example').kind, 'route');
  });
});

describe('loading files and directories', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-maps-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function write(relative: string, text: string): string {
    const path = join(dir, relative);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
    return path;
  }

  it('loads every *.yml and *.yaml in a directory in sorted order, skipping other files, dotfiles and subdirectories', async () => {
    const maps = join(dir, 'maps.d');
    write('maps.d/20-second.yaml', `b.example: ${V3_B}\n`);
    write('maps.d/10-first.yml', `a.example: ${V3_A}\nshared.example: ${V3_A}\n`);
    write('maps.d/30-third.YML', `shared.example: ${V3_A}\n`);
    write('maps.d/notes.txt', 'not a map: [');
    write('maps.d/.hidden.yml', 'broken: [');
    write('maps.d/sub/deeper.yml', 'broken: [');
    const map = await loadStaticMaps([maps]);
    assert.equal(map.stats.files, 3);
    assert.equal(map.lookup('a.example').kind, 'route');
    assert.equal(map.lookup('b.example').kind, 'route');
    const duplicate = only(map, 'duplicate');
    assert.equal(duplicate.file, join(maps, '30-third.YML'), 'sorted: 10-first, 20-second, 30-third');
    assert.match(duplicate.reason, new RegExp(`first at ${join(maps, '10-first.yml')}:2`));
    assert.ok(map.isComplete);
  });

  it('reads a file named twice (directly and through its directory or a symlink) once', async () => {
    const file = write('once/pins.yml', `once.example: ${V3_A}\n`);
    symlinkSync(file, join(dir, 'pins-link.yml'));
    const map = await loadStaticMaps([file, join(dir, 'once'), join(dir, 'pins-link.yml')]);
    assert.equal(map.stats.files, 1);
    assert.deepEqual(map.problems, []);
  });

  it('reports a missing path and an unreadable file by name while loading the rest', async () => {
    const good = write('good.yml', `good.example: ${V3_A}\n`);
    const missing = join(dir, 'missing.yml');
    const missingDir = join(dir, 'no-such-dir');
    for (const map of [await loadStaticMaps([missing, good, missingDir]), loadStaticMapsSync([missing, good, missingDir])]) {
      assert.equal(map.lookup('good.example').kind, 'route');
      const unreadable = map.problems.filter((p) => p.code === 'unreadable');
      assert.deepEqual(unreadable.map((p) => p.file), [missing, missingDir]);
      assert.ok(unreadable.every((p) => p.severity === 'error' && /ENOENT/.test(p.reason)));
      assert.equal(map.isComplete, false);
    }
  });

  it('reports a map-named entry that cannot be read as a file (a directory called x.yml)', async () => {
    mkdirSync(join(dir, 'trap.d', 'looks-like-a-map.yml'), { recursive: true });
    const good = write('trap.d/real.yml', `trap.example: ${V3_A}\n`);
    const map = await loadStaticMaps([join(dir, 'trap.d')]);
    const problem = only(map, 'unreadable');
    assert.equal(problem.file, join(dir, 'trap.d', 'looks-like-a-map.yml'));
    assert.match(problem.reason, /EISDIR/);
    assert.deepEqual(map.lookup('trap.example'), { kind: 'route', onion: V3_A, port: 25, origin: `${good}:1`, matched: 'trap.example' });
  });

  it('refuses a file that is not UTF-8', async () => {
    const latin1 = join(dir, 'latin1.yml');
    writeFileSync(latin1, Buffer.from('b\xfccher.example: x\n', 'latin1'));
    const map = await loadStaticMaps([latin1]);
    assert.equal(only(map, 'unreadable').reason, 'map file is not valid UTF-8');
  });

  it('warns about a directory without map files', async () => {
    mkdirSync(join(dir, 'empty.d'));
    const map = await loadStaticMaps([join(dir, 'empty.d')]);
    assert.equal(only(map, 'no-map-files').severity, 'warning');
    assert.ok(map.isComplete);
  });

  it('reports broken YAML with file:line:column, never throwing, and still loads the other files', async () => {
    const broken = write('broken.yml', `ok.example: ${V3_A}\nbad.example: [${V3_B}\n`);
    const good = write('good2.yml', `good2.example: ${V3_B}\n`);
    const map = await loadStaticMaps([broken, good]);
    const problem = only(map, 'yaml-syntax');
    assert.equal(problem.severity, 'error');
    assert.equal(problem.line, 3);
    assert.equal(typeof problem.column, 'number');
    assert.ok(problem.message.startsWith(`${broken}:3:${problem.column ?? ''}: invalid YAML: `), problem.message);
    assert.equal(map.lookup('ok.example').kind, 'none', 'nothing from a broken file is used');
    assert.equal(map.lookup('good2.example').kind, 'route');
    assert.equal(map.isComplete, false);
  });

  it('refuses a top level that is not a mapping, naming its line', async () => {
    const list = write('list.yml', `# comment\n\n- ${V3_A}\n`);
    const scalar = write('scalar.yml', 'just text\n');
    const map = await loadStaticMaps([list, scalar]);
    const problems = map.problems.filter((p) => p.code === 'not-a-mapping');
    assert.deepEqual(problems.map((p) => [p.file, p.line]), [[list, 3], [scalar, 1]]);
    assert.match(problems[0]!.reason, /got a list/);
    assert.match(problems[1]!.reason, /got the string 'just text'/);
    assert.equal(map.isComplete, false);
  });

  it('warns about empty files but counts them as loaded', async () => {
    const map = await loadStaticMaps([write('empty.yml', ''), write('comments.yml', '# nothing yet\n'), write('braces.yml', '{}\n')]);
    assert.deepEqual(codes(map), ['empty', 'empty', 'empty']);
    assert.equal(map.stats.files, 3);
    assert.ok(map.isComplete);
  });
});
