// `onionmx-milter serve [--config FILE]`: runs the daemon until SIGTERM/SIGINT; SIGHUP reloads the
// config file and the maps (a broken new config is logged and the old one keeps serving).
import { EX_CONFIG, EX_OK, EX_SOFTWARE, UsageError } from './exit.ts';
import { parseCommandArgs } from './args.ts';
import { loadConfigArg } from './config-arg.ts';
import { createDaemonLogger } from '../log.ts';
import { Daemon } from '../daemon/daemon.ts';
import { errorMessage } from '../errors.ts';

const HELP = `usage: onionmx-milter serve [--config FILE] [--grace SECONDS]

Runs the milter daemon. Without --config it reads /etc/onionmx-milter/config.yml when that
exists, and otherwise runs with built-in defaults: milter on inet:127.0.0.1:8895, DNS from
/etc/resolv.conf, DNSSEC required, the bundled OnionMX map. With relay.listen (LMTP) or
relay.smtp_listen (SMTP) set it also runs the relay that delivers onion mail through tor.socks.

Signals: SIGHUP reloads the config and maps; SIGTERM/SIGINT stop accepting connections and let
open MTA sessions and relay transactions finish (up to --grace seconds, default 20; relay
transactions still in DATA then are aborted, so the MTA retries them), then exit. A second signal exits at once.`;

export async function runServe(args: readonly string[]): Promise<number> {
  const parsed = parseCommandArgs(args, { usage: HELP, options: { config: { type: 'string' }, grace: { type: 'string' } } });
  if (parsed.help) return EX_OK;
  const graceMs = parsed.values.grace === undefined ? 20_000 : Number(parsed.values.grace) * 1000;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new UsageError('--grace takes a number of seconds');
  const configPath = parsed.values.config;
  const loaded = await loadConfigArg(configPath);
  if (!loaded.ok) {
    for (const m of loaded.messages) process.stderr.write(m + '\n');
    return EX_CONFIG;
  }
  const logger = createDaemonLogger(loaded.config.log.level);
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
  const daemon = new Daemon(loaded.config, log);
  try {
    await daemon.start();
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, 'cannot start');
    logger.close();
    process.stderr.write(`onionmx-milter: ${errorMessage(err)}\n`);
    return EX_CONFIG;
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
          await daemon.reload(next.config);
        })
        .catch((err: unknown) => {
          log.error({ err: errorMessage(err) }, 'reload rejected: keeping the running configuration');
        });
    });
  });
}
