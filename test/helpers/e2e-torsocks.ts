// The torsocks alternative of examples/postfix/alternatives/torsocks, installed into a Postfix
// that startOnionPostfix builds (pass the parts as its mainCf, masterCf and files), as an operator
// would: the `smtptor` transport appended to master.cf, its header checks in place of the relay's,
// and the `smtp_tor` wrapper in the daemon directory. So as not to touch the system's
// /usr/lib/postfix/sbin, the instance gets its own daemon_directory: copies of every system Postfix
// daemon (1.4 MB; symlinks make `postfix start` warn about each one) plus the wrapper, which finds
// `smtp` next to itself and so runs the real smtp client under the real torsocks. torsocks reads a
// torsocks.conf whose TorPort is the test's fake Tor; Postfix's master passes only the variables in
// import_environment to its children, so TORSOCKS_CONF_FILE is set there (`NAME=value` form), which
// is also how an operator would point the wrapper at another file.
import { chmod, copyFile, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EXAMPLES_POSTFIX, localPaths } from './e2e-postfix.ts';
import { requireProgram } from './system.ts';
import { tempDirUntilEnd } from './process-end.ts';

const run = promisify(execFile);

export const TORSOCKS_ALTERNATIVE = join(EXAMPLES_POSTFIX, 'alternatives', 'torsocks');

export interface TorsocksAlternative {
  readonly mainCf: Readonly<Record<string, string>>;
  readonly masterCf: string;
  readonly files: Readonly<Record<string, string>>;
  /** Removes the daemon directory (after the Postfix instance stopped). */
  remove(): Promise<void>;
}

export async function installTorsocksAlternative(torPort: number): Promise<TorsocksAlternative> {
  const libexec = tempDirUntilEnd('onionmx-e2e-libexec-');
  try {
    await chmod(libexec.path, 0o755);
    const postconf = requireProgram('postconf', 'torsocks alternative');
    const systemDaemons = (await run(postconf, ['-dh', 'daemon_directory'])).stdout.trim();
    for (const name of await readdir(systemDaemons)) {
      const from = join(systemDaemons, name);
      await copyFile(from, join(libexec.path, name));
      await chmod(join(libexec.path, name), (await stat(from)).mode & 0o7777);
    }
    await copyFile(join(TORSOCKS_ALTERNATIVE, 'smtp_tor'), join(libexec.path, 'smtp_tor'));
    await chmod(join(libexec.path, 'smtp_tor'), 0o755);
    const torsocksConf = join(libexec.path, 'torsocks.conf');
    await writeFile(torsocksConf, `TorAddress 127.0.0.1\nTorPort ${torPort}\nOnionAddrRange 127.42.42.0/24\n`, { mode: 0o644 });
    const importEnvironment = (await run(postconf, ['-dh', 'import_environment'])).stdout.trim();
    return {
      mainCf: { daemon_directory: libexec.path, import_environment: `${importEnvironment} TORSOCKS_CONF_FILE=${torsocksConf}` },
      masterCf: localPaths(await readFile(join(TORSOCKS_ALTERNATIVE, 'master.cf'), 'utf8')),
      files: { onion_milter_header_checks: await readFile(join(TORSOCKS_ALTERNATIVE, 'onion_milter_header_checks'), 'utf8') },
      remove: () => libexec.remove(),
    };
  } catch (err) {
    await libexec.remove();
    throw err;
  }
}
