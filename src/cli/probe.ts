// `onionmx-milter probe [--config FILE] [--json] <domain|address|onion[:port]>...`
// Resolves each input as the daemon would, then connects through the configured Tor SocksPort,
// reads the SMTP greeting, sends EHLO and QUIT, and reports in words (or JSON lines).
// Exit: 0 all reachable; 69 a failure that waiting will not heal (no route, invalid onion, Tor
// codes F4/F5/F6); 75 any other failure (F0-F3, F7, classic codes, timeouts, lookups); 64 usage;
// 78 bad configuration. 69 wins over 75 when inputs fail differently: it needs a human.
import { EX_CONFIG, EX_OK, EX_TEMPFAIL, EX_UNAVAILABLE, UsageError } from './exit.ts';
import { parseCommand } from './args.ts';
import { probeDoc } from './docs/probe.ts';
import { loadConfigArg } from './config-arg.ts';
import { buildResolver } from '../resolve/from-config.ts';
import { describeDecision } from '../resolve/describe.ts';
import { validateOnion } from '../resolve/onion.ts';
import type { Decision } from '../resolve/types.ts';
import { parseDuration } from '../config/duration.ts';
import { silentLogger, createLogger } from '../log.ts';
import { parseSocksEndpoint } from '../tor/socks-endpoint.ts';
import { probeOnion, describeProbe, type ProbeResult } from '../tor/probe.ts';

interface Outcome {
  readonly input: string;
  readonly decision: Decision | undefined;
  readonly probe: ProbeResult | undefined;
  readonly status: number;
  readonly text: string;
}

export async function runProbe(args: readonly string[]): Promise<number> {
  const parsed = parseCommand(args, probeDoc);
  if (parsed.help) return EX_OK;
  const v = parsed.values;
  if (parsed.positionals.length === 0) throw new UsageError('give at least one domain, address or onion (see --help)');
  const timeoutMs = v.timeout === undefined ? undefined : parseDuration(v.timeout);
  if (v.timeout !== undefined && (timeoutMs === undefined || timeoutMs <= 0)) throw new UsageError(`--timeout: bad duration "${v.timeout}" (e.g. 30s, 2m, 500ms)`);
  const loaded = await loadConfigArg(v.config);
  if (!loaded.ok) {
    for (const m of loaded.messages) process.stderr.write(m + '\n');
    return EX_CONFIG;
  }
  const config = loaded.config;
  const socks = parseSocksEndpoint(v.socks ?? config.tor.socks);
  if (!socks.ok) {
    if (v.socks !== undefined) throw new UsageError(`--socks: ${socks.reason}`);
    process.stderr.write(`tor.socks: ${socks.reason}\n`);
    return EX_CONFIG;
  }
  const log = v.verbose === true ? createLogger({ level: 'debug', destination: process.stderr }) : silentLogger();
  const built = await buildResolver(config, log);
  if (!built.ok) {
    for (const m of built.errors) process.stderr.write(m + '\n');
    return EX_CONFIG;
  }
  const probeOptions = {
    proxy: socks.endpoint,
    connectTimeoutMs: timeoutMs ?? config.tor.connectTimeoutMs,
    ...(v.ehlo === undefined ? {} : { ehloName: v.ehlo }),
  };

  const one = async (input: string): Promise<Outcome> => {
    const direct = /^(.+\.onion):(\d{1,5})$/i.exec(input);
    let decision: Decision | undefined;
    let target: { onion: string; port: number } | undefined;
    let head: string;
    if (direct !== null) {
      const check = validateOnion(direct[1] ?? '');
      const port = Number(direct[2]);
      if (!check.ok || port < 1 || port > 65535) {
        const why = check.ok ? `port ${port} out of range` : check.reason;
        return { input, decision: undefined, probe: undefined, status: EX_UNAVAILABLE, text: `${input}: invalid onion target (${why})` };
      }
      target = { onion: check.onion, port };
      head = `${input}: direct`;
    } else {
      decision = await built.resolver.resolve(input);
      head = describeDecision(input, decision);
      if (decision.kind === 'tempfail') return { input, decision, probe: undefined, status: EX_TEMPFAIL, text: head };
      if (decision.kind !== 'route') return { input, decision, probe: undefined, status: EX_UNAVAILABLE, text: head };
      target = { onion: decision.onion, port: decision.port };
    }
    const probe = await probeOnion({ ...probeOptions, ...target });
    const status = probe.ok ? EX_OK : probe.permanent ? EX_UNAVAILABLE : EX_TEMPFAIL;
    return { input, decision, probe, status, text: `${head}\n  ${describeProbe(probe)}` };
  };

  const outcomes = await Promise.all(parsed.positionals.map(one));
  for (const o of outcomes) {
    const line = v.json === true ? JSON.stringify({ input: o.input, status: o.status, decision: o.decision, probe: o.probe }) : o.text;
    process.stdout.write(line + '\n');
  }
  await built.close();
  if (outcomes.some((o) => o.status === EX_UNAVAILABLE)) return EX_UNAVAILABLE;
  if (outcomes.some((o) => o.status === EX_TEMPFAIL)) return EX_TEMPFAIL;
  return EX_OK;
}
