// Sendmail for the real-MTA suites, unpacked from Debian's sendmail-bin and sendmail-cf (never
// installed: it conflicts with Postfix). The binary needs libwrap0, and .cf generation needs m4
// (both in .ci/apt-packages). See exim-install.ts for the download and cache.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unpackDebs } from './exim-install.ts';

export interface SendmailInstall {
  /** usr/libexec/sendmail/sendmail (compiled with MILTER and SOCKETMAP). */
  readonly binary: string;
  /** The m4 macro tree (…/usr/share/sendmail/cf), for `m4 -D_CF_DIR_=<dir>/ <dir>/m4/cf.m4`. */
  readonly cfDir: string;
}

export function sendmailInstall(): SendmailInstall {
  const [bin, cf] = unpackDebs(['sendmail-bin', 'sendmail-cf']);
  if (bin === undefined || cf === undefined) throw new Error('sendmail packages not unpacked');
  const binary = join(bin, 'usr/libexec/sendmail/sendmail');
  // Not `sendmail -d0.1`: any run canonifies this host's name in DNS, and outside the test
  // namespace that would ask the machine's real resolver. The libraries and the compile options
  // (the strings `sendmail -d0.1` prints) are checked without running it.
  const missing = execFileSync('ldd', [binary], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes('not found'));
  if (missing.length > 0) throw new Error(`sendmail: missing libraries (libwrap0?): ${missing.join('; ')}`);
  const image = readFileSync(binary, 'latin1');
  for (const option of ['MILTER', 'SOCKETMAP']) {
    if (!image.includes(option)) throw new Error(`sendmail was built without ${option}`);
  }
  return { binary, cfDir: join(cf, 'usr/share/sendmail/cf') };
}
