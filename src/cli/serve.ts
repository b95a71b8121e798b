// `onionmx-milter serve [--config FILE]`: runs the daemon until SIGTERM/SIGINT; SIGHUP reloads the
// config file and the maps (a broken new config is logged and the old one keeps serving).
import { EX_CONFIG, EX_OK, EX_OSERR, EX_SOFTWARE, UsageError } from './exit.ts';
import { parseCommand } from './args.ts';
import { SERVE_GRACE_SECONDS, serveDoc } from './docs/serve.ts';
import { loadConfigArg } from './config-arg.ts';
import { createDaemonLogger, resolveLogFormat } from '../log.ts';
import { Daemon } from '../daemon/daemon.ts';
import { errorMessage } from '../errors.ts';
import { Accounts } from '../os/accounts.ts';
import { currentIdentity, planPrivileges, settlePrivileges } from '../os/privileges.ts';

export async function runServe(args: readonly string[]): Promise<number> {
  const parsed = parseCommand(args, serveDoc);
  if (parsed.help) return EX_OK;
  const graceMs = parsed.values.grace === undefined ? SERVE_GRACE_SECONDS * 1000 : Number(parsed.values.grace) * 1000;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new UsageError('--grace takes a number of seconds');
  const configPath = parsed.values.config;
  const loaded = await loadConfigArg(configPath);
  if (!loaded.ok) {
    for (const m of loaded.messages) process.stderr.write(m + '\n');
    return EX_CONFIG;
  }
  // Decided before anything is bound: a daemon that will not drop root never listens.
  const privileges = planPrivileges(currentIdentity(), loaded.config, await Accounts.read(), parsed.values['allow-root'] === true);
  if (privileges.kind === 'refuse') {
    process.stderr.write(`onionmx-milter serve: ${privileges.reason}\n`);
    return EX_CONFIG;
  }
  const tty = process.stdout.isTTY;
  const logger = createDaemonLogger(loaded.config.log.level, 1, resolveLogFormat(loaded.config.log.format, tty), tty && process.env['NO_COLOR'] === undefined);
  const log = logger.log;
  // Last resort: every socket and hook has its own error handling; anything reaching here is a bug.
  // Exit so that the service manager restarts a clean process (Postfix meanwhile tempfails).
  const fatal = (err: unknown): void => {
    log.fatal({ err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }, 'uncaught error: exiting');
    logger.flushSync();
    process.stderr.write(`onionmx-milter: fatal: ${errorMessage(err)}\n`);
    process.exit(EX_SOFTWARE);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  const socketDefaults = privileges.kind === 'drop' ? { owner: privileges.uid, group: privileges.gid } : undefined;
  const daemon = new Daemon(loaded.config, log, { socketDefaults });
  try {
    await daemon.start();
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, 'cannot start');
    logger.close();
    process.stderr.write(`onionmx-milter: ${errorMessage(err)}\n`);
    return EX_CONFIG;
  }
  try {
    await settlePrivileges(privileges, loaded.config, log);
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, 'cannot drop privileges');
    await daemon.close(0);
    logger.close();
    process.stderr.write(`onionmx-milter: ${errorMessage(err)}\n`);
    return EX_OSERR;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.fatal({ signal }, 'second signal: exiting now');
        logger.flushSync();
        process.exit(EX_SOFTWARE);
      }
      stopping = true;
      log.info({ signal, graceMs }, 'draining');
      daemon.close(graceMs).then(
        () => {
          log.info('stopped');
          logger.close();
          resolve(EX_OK);
        },
        (err: unknown) => {
          log.error({ err: errorMessage(err) }, 'close failed');
          logger.close();
          resolve(EX_SOFTWARE);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => {
      const source = daemon.config.source ?? configPath;
      loadConfigArg(source)
        .then(async (next) => {
          if (!next.ok) throw new Error(next.messages.join('; '));
          if (next.config.user !== daemon.config.user || next.config.group !== daemon.config.group) log.warn('user or group changed: restart required for that to take effect');
          await daemon.reload(next.config);
        })
        .catch((err: unknown) => {
          log.error({ err: errorMessage(err) }, 'reload rejected: keeping the running configuration');
        });
    });
  });
}
