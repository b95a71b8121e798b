// `onionmx-milter selftest`: every check in order, each result handed out as soon as it is known.
// A check whose input is missing (no config, no route, no SocksPort) is skipped with the reason.
import { loadConfigArg } from '../cli/config-arg.ts';
import { CHECK_RELAY_DEFAULTS } from '../cli/docs/check-relay.ts';
import { silentLogger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { buildResolver, type BuiltResolver } from '../resolve/from-config.ts';
import type { OnionTarget } from '../resolve/types.ts';
import { describeDecision } from '../resolve/describe.ts';
import type { Config } from '../config/schema.ts';
import { auditRelay } from '../join/relay-audit.ts';
import { parseSocksEndpoint } from '../tor/socks-endpoint.ts';
import { fail, pass, skip, type CheckResult } from './checklist.ts';
import { expectedHeaderValue, pickTestRecipient } from './test-recipient.ts';
import { FORGED_HEADER_CHECK, ROUTING_HEADER_CHECK, judgeTransaction, runTransaction } from './milter-transaction.ts';
import { DEFAULT_ACTION_CHECK, HEADER_CHECK, MILTERS_CHECK, OUTBOUND_CHECK, checkHeaderTable, checkOutboundStrip, judgeMilterSettings, onionFacingSmtpds } from './postfix-checks.ts';
import { postmapLookup, readPostfixView } from './postfix-view.ts';
import { onionSmtpTargets } from './torrc.ts';
import { ONION_CHECK, SOCKS_CHECK, checkOnion, judgeSocks, socksGreeting } from './tor-checks.ts';

export const CONFIG_CHECK = 'config loads';
export const RELAY_CHECK = 'onion smtpd not open relay';

export interface SelftestOptions {
  readonly config: string | undefined;
  readonly rcpt: string | undefined;
  readonly postfix: boolean;
  readonly postconfDir: string | undefined;
  /** The onion to probe; undefined: the test recipient's. */
  readonly onion: { readonly onion: string; readonly port: number } | undefined;
  /** The listener Tor's onion service forwards to; undefined: from `torrc`, else found in master.cf. */
  readonly onionSmtpd: { readonly host: string; readonly port: number } | undefined;
  /** A torrc's text, whose `HiddenServicePort 25` targets are the onion-facing listeners. */
  readonly torrc: { readonly path: string; readonly text: string } | undefined;
  /** Bound for each local step (milter, SocksPort, relay audit) and each SMTP reply through Tor. */
  readonly timeoutMs: number;
}

const POSTFIX_CHECKS = [MILTERS_CHECK, DEFAULT_ACTION_CHECK, HEADER_CHECK, OUTBOUND_CHECK] as const;

export async function runSelftest(o: SelftestOptions, report: (r: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const emit = (r: CheckResult): void => {
    results.push(r);
    report(r);
  };
  const later = (why: string): void => {
    for (const name of [ROUTING_HEADER_CHECK, FORGED_HEADER_CHECK, ...POSTFIX_CHECKS, RELAY_CHECK, SOCKS_CHECK, ONION_CHECK]) emit(skip(name, why));
  };
  const fixConfig = `onionmx-milter check${o.config === undefined ? '' : ` --config ${o.config}`} lists every problem with file and line`;
  const loaded = await loadConfigArg(o.config);
  if (!loaded.ok) {
    emit(fail(CONFIG_CHECK, loaded.messages[0] ?? 'invalid', fixConfig));
    later('the config did not load');
    return results;
  }
  const config = loaded.config;
  const built = await buildResolver(config, silentLogger());
  if (!built.ok) {
    emit(fail(CONFIG_CHECK, built.errors[0] ?? 'the maps did not load', fixConfig));
    later('the config did not load');
    return results;
  }
  try {
    // As `check` counts them: a pin to two onions defers that domain's mail.
    const mapError = built.operatorMaps.problems.find((p) => p.severity === 'error' || p.code === 'conflict');
    if (mapError === undefined) emit(pass(CONFIG_CHECK, `${config.source ?? 'built-in defaults'}, ${built.operatorMaps.stats.domains} pinned domain(s)`));
    else emit(fail(CONFIG_CHECK, mapError.message, fixConfig));
    const { route, headerValue } = await milterChecks(o, config, built, emit);
    await postfixChecks(o, config, headerValue, emit);
    const socks = parseSocksEndpoint(config.tor.socks);
    if (!socks.ok) {
      emit(fail(SOCKS_CHECK, `tor.socks: ${socks.reason}`, 'set tor.socks to host:port of Tor\'s SocksPort'));
      emit(skip(ONION_CHECK, 'no SocksPort'));
      return results;
    }
    const socksResult = judgeSocks(socks.endpoint, await socksGreeting(socks.endpoint, o.timeoutMs));
    emit(socksResult);
    const target = o.onion ?? route;
    if (target === undefined) emit(skip(ONION_CHECK, 'no onion to probe: give --onion ONION[:PORT]'));
    else if (socksResult.status !== 'PASS') emit(skip(ONION_CHECK, `the SocksPort did not answer (${target.onion}:${target.port} not probed)`));
    else emit(await checkOnion(socks.endpoint, target, { connectMs: config.tor.connectTimeoutMs, smtpMs: o.timeoutMs }));
    return results;
  } finally {
    await built.close();
  }
}

/** The transaction with the daemon for the test recipient; its route and the header it should get. */
async function milterChecks(o: SelftestOptions, config: Config, built: BuiltResolver, emit: (r: CheckResult) => void): Promise<{ route?: OnionTarget; headerValue?: string }> {
  const recipient = pickTestRecipient(o.rcpt, [built.operatorMaps, built.bundledMap]);
  if (!recipient.ok) {
    emit(fail(ROUTING_HEADER_CHECK, recipient.reason, 'give a recipient on an onion-routed domain with --rcpt ADDR'));
    emit(skip(FORGED_HEADER_CHECK, 'no test recipient'));
    return {};
  }
  const decision = await built.resolver.resolve(recipient.address);
  if (decision.kind !== 'route') {
    emit(fail(ROUTING_HEADER_CHECK, describeDecision(recipient.address, decision), `give a recipient on an onion-routed domain with --rcpt ADDR (this one is ${recipient.from})`));
    emit(skip(FORGED_HEADER_CHECK, 'no routed test recipient'));
    return {};
  }
  const headerValue = expectedHeaderValue(config.header, decision);
  const plan = { listen: config.milter.listen, headerName: config.header.name, rcpt: recipient.address, mailer: config.policy.routeMailers[0] ?? 'smtp', timeoutMs: o.timeoutMs };
  for (const r of judgeTransaction(await runTransaction(plan), plan, headerValue)) emit(r);
  return { route: { onion: decision.onion, port: decision.port }, headerValue };
}

async function postfixChecks(o: SelftestOptions, config: Config, headerValue: string | undefined, emit: (r: CheckResult) => void): Promise<void> {
  if (!o.postfix) {
    for (const name of POSTFIX_CHECKS) emit(skip(name, 'optional: add --postfix to check Postfix', true));
    const targets = o.onionSmtpd !== undefined ? [o.onionSmtpd] : o.torrc !== undefined ? onionSmtpTargets(o.torrc.text) : [];
    if (targets.length === 0) emit(skip(RELAY_CHECK, 'optional: add --postfix (or --onion-smtpd HOST:PORT, --torrc FILE)', true));
    for (const t of targets) emit(await relayCheck(t, o.timeoutMs));
    return;
  }
  let view;
  try {
    view = await readPostfixView(o.postconfDir);
  } catch (err) {
    emit(fail(MILTERS_CHECK, errorMessage(err), 'run as a user that may read the Postfix configuration (and give its directory with --postconf-dir)'));
    for (const name of POSTFIX_CHECKS.slice(1)) emit(skip(name, 'postconf failed'));
    emit(o.onionSmtpd === undefined ? skip(RELAY_CHECK, 'postconf failed') : await relayCheck(o.onionSmtpd, o.timeoutMs));
    return;
  }
  for (const r of judgeMilterSettings(view, config.milter.listen)) emit(r);
  const lookup = postmapLookup(o.postconfDir);
  if (headerValue === undefined) {
    emit(skip(HEADER_CHECK, 'no routing header to test (the test recipient does not route)'));
    emit(skip(OUTBOUND_CHECK, 'no routing header to test'));
  } else {
    const headerLine = `${config.header.name}: ${headerValue}`;
    const header = await checkHeaderTable(view, headerLine, lookup, config.header.name);
    emit(header.result);
    emit(await checkOutboundStrip(view, header.filter ?? { transport: config.header.transport, nexthop: undefined }, headerLine, lookup, config.relay.listen));
  }
  const targets = o.onionSmtpd !== undefined ? [o.onionSmtpd] : o.torrc !== undefined ? onionSmtpTargets(o.torrc.text) : onionFacingSmtpds(view);
  if (targets.length === 0) {
    const where = o.torrc === undefined ? 'master.cf has no loopback smtpd without milters (the listener Tor forwards to)' : `${o.torrc.path} has no HiddenServicePort 25 with a TCP target`;
    emit(fail(RELAY_CHECK, where, 'name the listener your onion service forwards to with --onion-smtpd HOST:PORT (or --torrc FILE)'));
  }
  for (const t of targets) emit(await relayCheck(t, o.timeoutMs));
}

async function relayCheck(target: { readonly host: string; readonly port: number }, timeoutMs: number): Promise<CheckResult> {
  const label = `${target.host}:${target.port}`;
  const report = await auditRelay({ ...target, from: CHECK_RELAY_DEFAULTS.from, to: CHECK_RELAY_DEFAULTS.to, helo: CHECK_RELAY_DEFAULTS.helo, timeoutMs });
  if (report.verdict === 'PASS') return pass(RELAY_CHECK, `${label}: every relay attempt refused (${report.attempts.length} tried)`);
  const reason = report.reasons[0] ?? report.verdict;
  return fail(RELAY_CHECK, `${label}: ${report.verdict}: ${reason}`, `refuse relaying there (-o mynetworks= -o smtpd_relay_restrictions=reject_unauth_destination, see examples/postfix/master.cf); details: onionmx-milter check-relay --smtp ${label}`);
}
