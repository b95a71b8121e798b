// One milter transaction through a running daemon, as Postfix's smtpd would drive it: the
// routing header the daemon adds for one recipient (undefined: none).
import assert from 'node:assert/strict';
import { MilterClient } from '../../src/milter/index.ts';

export async function routeHeaderFor(spec: string, rcpt: string): Promise<string | undefined> {
  const client = await MilterClient.connect(spec);
  try {
    await client.negotiate();
    await client.mailFrom('<s@client.example>');
    client.macro('R', { '{rcpt_mailer}': 'smtp' });
    const r = await client.rcptTo(`<${rcpt}>`);
    assert.equal(r.kind, 'continue', JSON.stringify(r));
    await client.header('Subject', 'x');
    await client.endOfHeaders();
    const eom = await client.endOfMessage();
    const add = eom.modifications.find((m) => m.kind === 'addHeader');
    return add?.kind === 'addHeader' ? add.value : undefined;
  } finally {
    await client.quit();
  }
}
