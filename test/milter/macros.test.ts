import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MacroStore } from '../../src/milter/macros.ts';

describe('macro stages (libmilter semantics)', () => {
  it('each D packet replaces its own stage only', () => {
    const m = new MacroStore();
    m.define('C', [['j', 'mx'], ['{daemon_name}', 'd']]);
    m.define('M', [['{mail_addr}', 'a@b']]);
    m.define('C', [['j', 'mx2']]);
    assert.equal(m.get('j'), 'mx2');
    assert.equal(m.get('{daemon_name}'), undefined);
    assert.equal(m.get('mail_addr'), 'a@b');
  });

  it('treats x and {x} as one name', () => {
    const m = new MacroStore();
    m.define('R', [['{i}', 'Q1'], ['rcpt_addr', 'b@c']]);
    assert.equal(m.get('i'), 'Q1');
    assert.equal(m.get('{rcpt_addr}'), 'b@c');
    assert.deepEqual([...m.all()], [['i', 'Q1'], ['{rcpt_addr}', 'b@c']]);
  });

  it('later stages win; C/H/M/R clear the stages after them', () => {
    const m = new MacroStore();
    m.define('C', [['i', 'conn']]);
    m.define('R', [['i', 'rcpt']]);
    m.define('E', [['i', 'eom']]);
    assert.equal(m.get('i'), 'eom');
    m.commandArrived('M');
    assert.equal(m.get('i'), 'conn', 'RCPT and EOM cleared by a new MAIL');
    m.define('M', [['{mail_addr}', 'x']]);
    m.commandArrived('C');
    assert.equal(m.get('{mail_addr}'), undefined);
    m.commandArrived('B');
    assert.equal(m.get('i'), 'conn', 'non-clearing commands clear nothing');
  });

  it("Postfix's D-L / D-B / D-U are transient and never clobber real stages", () => {
    const m = new MacroStore();
    m.define('T', [['i', 'Q1']]);
    m.define('N', [['x', 'eoh']]);
    m.define('L', [['i', 'Q1L'], ['x', 'fromL']]);
    assert.equal(m.get('x'), 'fromL');
    m.commandDone();
    assert.equal(m.get('x'), 'eoh');
    assert.equal(m.get('i'), 'Q1');
    m.define('B', [['y', '1']]);
    m.commandDone();
    m.define('U', []);
    m.commandDone();
    assert.equal(m.get('y'), undefined);
    assert.equal(m.get('i'), 'Q1');
  });

  it('clearAll forgets everything', () => {
    const m = new MacroStore();
    m.define('C', [['j', 'x']]);
    m.clearAll();
    assert.equal(m.all().size, 0);
  });
});
