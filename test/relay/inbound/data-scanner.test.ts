// The DATA scanner: terminator, dot-stuffing kept, routing header deleted (folded, any case, split
// anywhere), bare LF / bare CR, the size limit, what follows the final dot, and bounded memory;
// checked against a whole-message reference and for every split and random chunking.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DataScanner, type DataProblem } from '../../../src/relay/inbound/data-scanner.ts';

const HEADER = 'X-Onion-Route';

interface Scan {
  readonly forwarded: string;
  readonly done: boolean;
  readonly rest: string | undefined;
  readonly problem: DataProblem | undefined;
  readonly size: number;
}

function scan(parts: readonly Buffer[], options: { max?: number; names?: readonly string[] } = {}): Scan {
  const s = new DataScanner({ maxMessageSize: options.max ?? 1e9, deleteHeaders: options.names ?? [HEADER] });
  const out: Buffer[] = [];
  let rest: Buffer | undefined;
  for (const p of parts) {
    const r = s.push(p);
    out.push(...r.forward);
    if (r.rest !== undefined) {
      rest = Buffer.concat([rest ?? Buffer.alloc(0), r.rest]);
    }
  }
  return { forwarded: Buffer.concat(out).toString('latin1'), done: s.done, rest: rest?.toString('latin1'), problem: s.problem, size: s.size };
}

const one = (text: string, options?: { max?: number; names?: readonly string[] }): Scan => scan([Buffer.from(text, 'latin1')], options);

function splits(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [[bytes]];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  out.push([...bytes].map((b) => Buffer.from([b])));
  return out;
}

/** The whole-message reference for well-formed input: what should go upstream, and the size. */
function reference(wire: string, names: readonly string[]): { forwarded: string; size: number; rest: string } {
  const end = wire.startsWith('.\r\n') ? 0 : wire.indexOf('\r\n.\r\n') + 2;
  const message = wire.slice(0, end);
  const lines = message === '' ? [] : message.slice(0, -2).split('\r\n');
  const kept: string[] = [];
  let inHeaders = names.length > 0;
  let dropping = false;
  let size = 0;
  for (const line of lines) {
    const text = line.startsWith('.') ? line.slice(1) : line;
    size += text.length + 2;
    if (inHeaders && text === '') inHeaders = false;
    else if (inHeaders && !/^[ \t]/.test(text)) dropping = names.some((n) => new RegExp(`^${n}[ \\t]*:`, 'i').test(text));
    if (!(inHeaders && dropping)) kept.push(`${line}\r\n`);
  }
  return { forwarded: kept.join(''), size, rest: wire.slice(end + 3) };
}

describe('DATA scanner', () => {
  it('forwards a message in wire form, without the final dot, and hands back what follows it', () => {
    const r = one('Subject: hi\r\n\r\nbody\r\n..leading dot\r\n.\r\nQUIT\r\n');
    assert.equal(r.forwarded, 'Subject: hi\r\n\r\nbody\r\n..leading dot\r\n');
    assert.equal(r.done, true);
    assert.equal(r.rest, 'QUIT\r\n');
    assert.equal(r.problem, undefined);
  });

  it('ends an empty message at once', () => {
    const r = one('.\r\nRSET\r\n');
    assert.deepEqual([r.forwarded, r.done, r.rest, r.size], ['', true, 'RSET\r\n', 0]);
  });

  it('is not fooled by dots that do not end the message', () => {
    const r = one('a\r\n. \r\n.x\r\n..\r\nb.\r\n\r\n');
    assert.equal(r.done, false);
    assert.equal(r.forwarded, 'a\r\n. \r\n.x\r\n..\r\nb.\r\n\r\n');
  });

  it('counts octets as RFC 1870 does: CRLFs in, stuffing dots out', () => {
    const r = one('ab\r\n..c\r\n.\r\n');
    assert.equal(r.size, 4 + 4);
  });

  it('deletes the routing header in any case, folded, with white space before the colon, and keeps look-alikes', () => {
    const r = one(
      [
        'Received: from a',
        'X-Onion-Route: smtptor:[x.onion]:25',
        'x-onion-route\t : folded',
        '\tcontinued',
        ' and continued',
        'X-Onion-Routes: kept',
        'X-Onion-Route-Extra: kept',
        'X-Onion-Rout: kept',
        'Subject: hi',
        '  subject fold kept',
        '',
        'X-Onion-Route: in the body is kept',
        '.',
        '',
      ].join('\r\n'),
    );
    assert.equal(r.forwarded, ['Received: from a', 'X-Onion-Routes: kept', 'X-Onion-Route-Extra: kept', 'X-Onion-Rout: kept', 'Subject: hi', '  subject fold kept', '', 'X-Onion-Route: in the body is kept', ''].join('\r\n'));
  });

  it('deletes a dot-stuffed routing header and keeps the stuffing of kept lines', () => {
    const r = one('.X-Onion-Route: a\r\n..Other: b\r\n\r\n.\r\n', { names: [HEADER, '.Other'] });
    assert.equal(r.forwarded, '\r\n');
  });

  it('deletes the routing header when the message has no body', () => {
    assert.equal(one('A: 1\r\nX-Onion-Route: x\r\n.\r\n').forwarded, 'A: 1\r\n');
  });

  it('treats a name followed by more white space than any header has as the routing header', () => {
    const r = one(`X-Onion-Route${' '.repeat(200)}: x\r\nB: 2\r\n\r\n.\r\n`);
    assert.equal(r.forwarded, 'B: 2\r\n\r\n');
  });

  it('gives the same result for every split of a message that exercises every state', () => {
    const wire = Buffer.from('.X-Onion-Route: a\r\n  fold\r\nKeep: 1\r\nx-onion-route:b\r\nno colon line\r\n\r\n..body\r\nX-Onion-Route: body\r\n.\r\nNOOP\r\n', 'latin1');
    const whole = scan([wire]);
    assert.equal(whole.forwarded, 'Keep: 1\r\nno colon line\r\n\r\n..body\r\nX-Onion-Route: body\r\n');
    for (const parts of splits(wire)) assert.deepEqual(scan(parts), whole);
  });

  for (const [name, text, kind, offset] of [
    ['a bare LF in the body', 'A: 1\r\n\r\nline\nsmuggled\r\n.\r\n', 'bare-lf', 12],
    ['a bare LF in a header name', 'A\n: 1\r\n\r\n.\r\n', 'bare-lf', 1],
    ['a bare CR', 'A: 1\r\n\r\nx\ry\r\n.\r\n', 'bare-cr', 9],
    ['a bare CR after a line-start dot', 'A: 1\r\n\r\n.\rx\r\n.\r\n', 'bare-cr', 9],
    ['the smuggling shape LF.LF', 'A: 1\r\n\r\nx\n.\nMAIL FROM:<evil>\r\n.\r\n', 'bare-lf', 9],
  ] as const) {
    it(`refuses ${name} and forwards nothing after it, whatever the split`, () => {
      const wire = Buffer.from(text, 'latin1');
      for (const parts of splits(wire)) {
        const r = scan(parts);
        assert.deepEqual(r.problem, { kind, offset });
        assert.equal(r.done, true, 'the terminator is still found');
        assert.ok(!r.forwarded.includes('smuggled') && !r.forwarded.includes('evil'));
      }
    });
  }

  it('forwards nothing at all once a problem is found in the same chunk', () => {
    assert.equal(one('A: 1\r\n\r\nx\ny\r\n.\r\n').forwarded, '');
  });

  it('refuses a message over the size limit and stops forwarding', () => {
    const r = scan([Buffer.from('12345678\r\n'), Buffer.from('9\r\n.\r\n')], { max: 11 });
    assert.deepEqual(r.problem, { kind: 'too-big', limit: 11 });
    assert.equal(r.forwarded, '12345678\r\n');
    assert.equal(r.done, true);
    assert.equal(one('1234567\r\n.\r\n', { max: 9 }).problem, undefined);
  });

  it('matches the whole-message reference for generated messages, for any chunking', () => {
    const headerName = fc.constantFrom('X-Onion-Route', 'x-onion-route', 'X-ONION-ROUTE \t', 'X-Onion-Routes', 'Subject', 'X-Onion', 'Received', '.X-Onion-Route');
    const text = fc.stringMatching(/^[ -~\x80-\xff]{0,30}$/);
    const headerLine = fc.oneof(
      fc.tuple(headerName, text).map(([n, v]) => `${n}:${v}`),
      text.map((t) => ` ${t}`),
      text.map((t) => `\t${t}`),
    );
    const bodyLine = fc.oneof(text, text.map((t) => `.${t}`), fc.constant('.'), fc.constant('X-Onion-Route: body'));
    const message = fc
      .tuple(fc.array(headerLine, { maxLength: 8 }), fc.boolean(), fc.array(bodyLine, { maxLength: 8 }), text)
      .map(([headers, blank, body, after]) => {
        // A line that is only `.` is the terminator: stuff it (and any line-start dot) as an MTA does.
        const stuff = (l: string): string => (l.startsWith('.') ? `.${l}` : l);
        const lines = [...headers.map(stuff), ...(blank ? ['', ...body.map(stuff)] : [])];
        return `${lines.map((l) => `${l}\r\n`).join('')}.\r\n${after}`;
      });
    const cuts = fc.array(fc.nat(), { maxLength: 6 });
    fc.assert(
      fc.property(message, cuts, (wire, cutPoints) => {
        const bytes = Buffer.from(wire, 'latin1');
        const points = [...new Set(cutPoints.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const parts: Buffer[] = [];
        let last = 0;
        for (const p of points) {
          parts.push(bytes.subarray(last, p));
          last = p;
        }
        parts.push(bytes.subarray(last));
        const expected = reference(wire, [HEADER]);
        const got = scan(parts);
        assert.equal(got.forwarded, expected.forwarded);
        assert.equal(got.size, expected.size);
        assert.equal(got.rest ?? '', expected.rest);
        assert.equal(got.problem, undefined);
        assert.deepEqual(scan([bytes]), got);
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same verdict for arbitrary bytes whatever the chunking, and forwards nothing past a problem', () => {
    const byte = fc.constantFrom(0x0d, 0x0a, 0x2e, 0x3a, 0x20, 0x09, 0x58, 0x78, 0x41, 0xff);
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 80 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }), (bytes, sizes) => {
        const wire = Buffer.from([...bytes, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]);
        const whole = scan([wire], { names: ['X', 'x:'], max: 60 });
        const parts: Buffer[] = [];
        for (let at = 0, k = 0; at < wire.length; k++) {
          const n = sizes[k % sizes.length] ?? 1;
          parts.push(wire.subarray(at, at + n));
          at += n;
        }
        const chunked = scan(parts, { names: ['X', 'x:'], max: 60 });
        // Bytes before a problem may already have gone out when it is found in a later chunk.
        assert.deepEqual({ ...chunked, forwarded: '' }, { ...whole, forwarded: '' });
        if (whole.problem === undefined) assert.equal(chunked.forwarded, whole.forwarded);
        else assert.ok(chunked.forwarded.length <= (whole.problem.kind === 'too-big' ? whole.problem.limit : whole.problem.offset));
      }),
      { numRuns: 1000 },
    );
  });

  it('streams a 50 MB message as slices of the input chunks, holding nothing back', () => {
    const line = Buffer.from(`${'x'.repeat(76)}\r\n`);
    const chunk = Buffer.concat(Array.from({ length: 800 }, () => line)); // 62.4 KB
    const s = new DataScanner({ maxMessageSize: 60_000_000, deleteHeaders: [HEADER] });
    let forwarded = 0;
    const first = s.push(Buffer.from('Subject: big\r\n\r\n'));
    forwarded += first.forward.reduce((n, p) => n + p.length, 0);
    const chunks = Math.ceil(50_000_000 / chunk.length);
    for (let i = 0; i < chunks; i++) {
      const r = s.push(chunk);
      assert.equal(r.forward.length, 1, 'one slice per chunk');
      assert.equal(r.forward[0]?.buffer, chunk.buffer, 'a view of the input, not a copy');
      forwarded += r.forward[0]?.length ?? 0;
    }
    const end = s.push(Buffer.from('.\r\n'));
    assert.equal(s.done, true);
    assert.equal(end.forward.length, 0);
    assert.equal(forwarded, 16 + chunks * chunk.length);
    assert.equal(s.size, forwarded);
  });
});
