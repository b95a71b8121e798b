// Drives our server with OpenDKIM's miltertest (a libmilter-compatible MTA emulator) via Lua scripts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createMilterServer, type FilterSpec, type MilterServer } from '../../src/milter/index.ts';
import { findProgram, needPrograms } from '../helpers/system.ts';

// Lua scripts are not compiled: resolve them in the source tree from dist/test/milter/.
const LUA_DIR = fileURLToPath(new URL('../../../test/milter/lua/', import.meta.url));

const filter: FilterSpec = {
  actions: ['addHeader', 'changeHeader'],
  open: () => {
    let forged = 0;
    return {
      connect: () => undefined,
      helo: () => undefined,
      mailFrom: () => undefined,
      rcptTo: (_ctx, rcpt) => {
        if (rcpt.address.startsWith('throw@')) throw new Error('lookup exploded');
        return rcpt.address.startsWith('reject@') ? { kind: 'reject' } : undefined;
      },
      header: (_ctx, name) => {
        if (name.toLowerCase() === 'x-forged') forged++;
        return undefined;
      },
      endOfHeaders: () => undefined,
      body: () => undefined,
      endOfMessage: (ctx) => {
        for (let i = forged; i >= 1; i--) ctx.deleteHeader('X-Forged', i);
        ctx.addHeader('X-Onion-Route', `smtptor:[x.onion]:25 ${ctx.macros.get('i') ?? ''}`);
        return undefined;
      },
    };
  },
};

function miltertest(script: string, port: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(findProgram('miltertest') ?? 'miltertest', ['-D', `port=${port}`, '-s', `${LUA_DIR}${script}`], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe('miltertest scripts against the server', { skip: needPrograms('miltertest') }, () => {
  let server: MilterServer;
  let port = 0;
  before(async () => {
    server = createMilterServer({ filter });
    port = (await server.listen('inet:127.0.0.1:0')).port ?? 0;
  });
  after(async () => server.close(1000));

  for (const script of ['transaction.lua', 'reject.lua', 'tempfail.lua']) {
    it(script, async () => {
      const { code, output } = await miltertest(script, port);
      assert.equal(code, 0, output);
    });
  }

  it('a failing script is reported as a failure (the harness can fail)', async () => {
    const { code } = await miltertest('transaction.lua', 1);
    assert.notEqual(code, 0);
  });
});
