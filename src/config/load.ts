// YAML text -> validated, frozen Config. Collects every problem (unknown keys, wrong types, bad
// values) with its key path and, where it can be found, its line, instead of stopping at the first.
import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { defaults, type Config, type DnsServer, type SocketAccessConfig } from './schema.ts';
import { parseDuration } from './duration.ts';
import { locateKey, locateSecondDocument } from './locate.ts';
import { parseListenSpec } from '../net/listen-spec.ts';
import { parseSocksEndpoint } from '../tor/socks-endpoint.ts';
import { metricsListenSpec } from '../metrics/listen.ts';
import { validateOnion } from '../resolve/onion.ts';
import { isLoopbackAddress } from '../resolve/dns/resolv-conf.ts';
import { relayListenProblem } from '../relay/inbound/listen-policy.ts';

export interface ConfigProblem {
  readonly path: string;
  readonly line: number | undefined;
  readonly message: string;
}

export type ConfigResult = { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

type Path = readonly (string | number)[];
type Obj = Readonly<Record<string, unknown>>;

class Checker {
  readonly problems: ConfigProblem[] = [];
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }

  problem(path: Path, message: string): void {
    this.problems.push({ path: path.join('.'), line: locateKey(this.#text, path), message });
  }

  section(parent: Obj, path: Path, keys: readonly string[]): Obj {
    const key = path[path.length - 1];
    const value = path.length === 0 ? parent : typeof key === 'string' ? parent[key] : undefined;
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.problem(path, 'must be a mapping');
      return {};
    }
    const obj = value as Obj;
    for (const k of Object.keys(obj)) {
      if (!keys.includes(k)) this.problem([...path, k], `unknown key (expected one of: ${keys.join(', ')})`);
    }
    return obj;
  }

  string(o: Obj, path: Path, fallback: string): string;
  string(o: Obj, path: Path, fallback: undefined): string | undefined;
  string(o: Obj, path: Path, fallback: string | undefined): string | undefined {
    const v = o[String(path[path.length - 1])];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
    this.problem(path, 'must be a non-empty string');
    return fallback;
  }

  oneOf<T extends string>(o: Obj, path: Path, choices: readonly T[], fallback: T): T {
    const v = o[String(path[path.length - 1])];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
    this.problem(path, `must be one of: ${choices.join(', ')}`);
    return fallback;
  }

  bool(o: Obj, path: Path, fallback: boolean): boolean {
    const v = o[String(path[path.length - 1])];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'boolean') return v;
    this.problem(path, 'must be true or false');
    return fallback;
  }

  int(o: Obj, path: Path, fallback: number, min: number, max: number): number {
    const v = o[String(path[path.length - 1])];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    this.problem(path, `must be an integer from ${min} to ${max}`);
    return fallback;
  }

  duration(o: Obj, path: Path, fallbackMs: number, minMs = 0): number {
    const v = o[String(path[path.length - 1])];
    if (v === undefined || v === null) return fallbackMs;
    const ms = parseDuration(v);
    if (ms !== undefined && ms >= minMs) return ms;
    this.problem(path, 'must be a duration such as 500ms, 2s, 5m, 1h or 1d (a bare number means seconds)');
    return fallbackMs;
  }

  stringList(o: Obj, path: Path, fallback: readonly string[]): readonly string[] {
    const v = o[String(path[path.length - 1])];
    if (v === undefined || v === null) return fallback;
    if (!Array.isArray(v)) {
      this.problem(path, 'must be a list of strings');
      return fallback;
    }
    const out: string[] = [];
    v.forEach((item: unknown, i) => {
      if (typeof item === 'string' && item.trim() !== '') out.push(item.trim());
      else this.problem([...path, i], 'must be a non-empty string');
    });
    return out;
  }

  /** A user or group: a name, or a numeric id (YAML writes it as a number). */
  account(o: Obj, path: Path): string | undefined {
    const v = o[String(path[path.length - 1])];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return String(v);
    return this.string(o, path, undefined);
  }

  listen(o: Obj, path: Path, fallback: string | undefined): string | undefined {
    const spec = fallback === undefined ? this.string(o, path, undefined) : this.string(o, path, fallback);
    if (spec === undefined || spec === fallback) return spec;
    const parsed = parseListenSpec(spec);
    if (!parsed.ok) this.problem(path, parsed.reason);
    return spec;
  }
}

const TOP = ['user', 'group', 'milter', 'header', 'maps', 'bundled_map', 'map_parent_match', 'srv', 'dns', 'cache', 'policy', 'lookup', 'tor', 'health', 'relay', 'metrics', 'log'];

function hostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(text);
  if (m === null) return undefined;
  const port = m[3] === undefined ? 53 : Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

function dnsServers(c: Checker, dns: Obj): readonly DnsServer[] {
  const v = dns['servers'];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    c.problem(['dns', 'servers'], 'must be a list of "host[:port]" strings or {address, port, trust_ad} mappings');
    return [];
  }
  const out: DnsServer[] = [];
  v.forEach((item: unknown, i) => {
    const path = ['dns', 'servers', i];
    if (typeof item === 'string') {
      const hp = hostPort(item.trim());
      if (hp === undefined) c.problem(path, `"${item}" is not host[:port]`);
      else out.push({ address: hp.host, port: hp.port, trustAd: false });
      return;
    }
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      c.problem(path, 'must be "host[:port]" or a mapping');
      return;
    }
    const o = c.section({ s: item }, [...path.slice(0, -1), 's'], ['address', 'port', 'trust_ad']);
    const address = c.string(o, [...path, 'address'], undefined);
    if (address === undefined) c.problem([...path, 'address'], 'is required');
    const port = c.int(o, [...path, 'port'], 53, 1, 65535);
    const trustAd = c.bool(o, [...path, 'trust_ad'], false);
    if (address !== undefined) out.push({ address, port, trustAd });
  });
  return out;
}

/** Validates a parsed YAML document. `text` is only used to find line numbers. */
export function validateConfig(doc: unknown, text: string, source: string | undefined): ConfigResult {
  const c = new Checker(text);
  if (doc !== undefined && doc !== null && (typeof doc !== 'object' || Array.isArray(doc))) {
    return { ok: false, problems: [{ path: '(top)', line: 1, message: 'the config file must be a YAML mapping' }] };
  }
  const root = c.section((doc ?? {}) as Obj, [], TOP);
  const d = defaults;

  const m = c.section(root, ['milter'], ['listen', 'submission_listen', ...SOCKET_ACCESS_KEYS, 'mixed_routes', 'mixed_routes_max_defer', 'idle_timeout', 'max_connections']);
  const milterSocket = socketAccess(c, m, 'milter', d.milter);
  const h = c.section(root, ['header'], ['name', 'format', 'transport', 'template']);
  const headerName = c.string(h, ['header', 'name'], d.header.name);
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(headerName)) c.problem(['header', 'name'], 'must be a header field name (printable ASCII, no colon or space)');
  const format = c.oneOf(h, ['header', 'format'], ['postfix', 'domain-list', 'template'] as const, d.header.format);
  const template = c.string(h, ['header', 'template'], undefined);
  if (format === 'template' && template === undefined) c.problem(['header', 'template'], 'is required when header.format is template');
  const mixedRoutes = c.oneOf(m, ['milter', 'mixed_routes'], ['defer', 'allow', 'default'] as const, format === 'domain-list' ? 'allow' : d.milter.mixedRoutes);
  if (format === 'domain-list' && mixedRoutes === 'defer') c.problem(['milter', 'mixed_routes'], 'defer makes no sense with header.format domain-list, which routes per recipient: use allow');

  const mapsRaw = root['maps'];
  let maps: readonly string[] = [];
  if (typeof mapsRaw === 'string') maps = [mapsRaw];
  else maps = c.stringList(root, ['maps'], []);

  const s = c.section(root, ['srv'], ['enabled', 'service']);
  const dns = c.section(root, ['dns'], ['servers', 'dnssec', 'timeout', 'deadline', 'via_tor']);
  const timeoutMs = c.duration(dns, ['dns', 'timeout'], d.dns.timeoutMs, 1);
  const deadlineMs = c.duration(dns, ['dns', 'deadline'], d.dns.deadlineMs, 1);
  if (timeoutMs > deadlineMs) c.problem(['dns', 'timeout'], 'must not be longer than dns.deadline');
  const cache = c.section(root, ['cache'], ['max_entries', 'max_ttl', 'failure_ttl', 'serve_stale']);
  const p = c.section(root, ['policy'], ['route_mailers', 'local_domains', 'ignore_domains', 'on_lookup_failure']);
  const l = c.section(root, ['lookup'], ['socketmap', 'tcp_table', 'sendmail', 'readsocket', 'budget', ...SOCKET_ACCESS_KEYS]);
  const t = c.section(root, ['tor'], ['socks', 'connect_timeout', 'dns_socks']);
  const hl = c.section(root, ['health'], ['enabled', 'interval', 'on_unreachable', 'failures_before_unreachable', 'concurrency', 'forget_after']);
  const rl = c.section(root, ['relay'], ['listen', 'smtp_listen', 'postfix_nexthop', 'helo_name', 'starttls', 'max_message_size', 'max_recipients', 'max_connections', 'idle_timeout', 'timeouts', 'pool', ...SOCKET_ACCESS_KEYS]);
  const rlt = c.section(rl, ['relay', 'timeouts'], ['greeting', 'mail', 'rcpt', 'data_init', 'data_block', 'data_done']);
  const rlp = c.section(rl, ['relay', 'pool'], ['idle_time', 'max_per_onion', 'max_total']);
  const mt = c.section(root, ['metrics'], ['listen']);
  const lg = c.section(root, ['log'], ['level', 'format']);

  const config: Config = {
    source,
    user: c.account(root, ['user']),
    group: c.account(root, ['group']),
    milter: {
      listen: c.listen(m, ['milter', 'listen'], d.milter.listen) ?? d.milter.listen,
      submissionListen: c.listen(m, ['milter', 'submission_listen'], undefined),
      ...milterSocket,
      mixedRoutes,
      mixedRoutesMaxDefer: c.int(m, ['milter', 'mixed_routes_max_defer'], d.milter.mixedRoutesMaxDefer, 0, 1000),
      idleTimeoutMs: c.duration(m, ['milter', 'idle_timeout'], d.milter.idleTimeoutMs, 1000),
      maxConnections: c.int(m, ['milter', 'max_connections'], d.milter.maxConnections, 1, 1_000_000),
    },
    header: { name: headerName, format, transport: c.string(h, ['header', 'transport'], d.header.transport), template },
    maps,
    bundledMap: c.bool(root, ['bundled_map'], d.bundledMap),
    mapParentMatch: c.bool(root, ['map_parent_match'], d.mapParentMatch),
    srv: { enabled: c.bool(s, ['srv', 'enabled'], d.srv.enabled), service: c.string(s, ['srv', 'service'], d.srv.service) },
    dns: {
      servers: dnsServers(c, dns),
      dnssec: c.oneOf(dns, ['dns', 'dnssec'], ['required', 'optional'] as const, d.dns.dnssec),
      timeoutMs,
      deadlineMs,
      viaTor: c.bool(dns, ['dns', 'via_tor'], d.dns.viaTor),
    },
    cache: {
      maxEntries: c.int(cache, ['cache', 'max_entries'], d.cache.maxEntries, 1, 100_000_000),
      maxTtlMs: c.duration(cache, ['cache', 'max_ttl'], d.cache.maxTtlMs),
      failureTtlMs: c.duration(cache, ['cache', 'failure_ttl'], d.cache.failureTtlMs),
      serveStaleMs: c.duration(cache, ['cache', 'serve_stale'], d.cache.serveStaleMs),
    },
    policy: {
      routeMailers: c.stringList(p, ['policy', 'route_mailers'], d.policy.routeMailers),
      localDomains: c.stringList(p, ['policy', 'local_domains'], d.policy.localDomains).map((x) => x.toLowerCase()),
      ignoreDomains: c.stringList(p, ['policy', 'ignore_domains'], d.policy.ignoreDomains).map((x) => x.toLowerCase()),
      onLookupFailure: c.oneOf(p, ['policy', 'on_lookup_failure'], ['tempfail', 'none'] as const, d.policy.onLookupFailure),
    },
    lookup: {
      socketmap: c.listen(l, ['lookup', 'socketmap'], undefined),
      tcpTable: c.listen(l, ['lookup', 'tcp_table'], undefined),
      sendmail: c.listen(l, ['lookup', 'sendmail'], undefined),
      readsocket: c.listen(l, ['lookup', 'readsocket'], undefined),
      budgetMs: c.duration(l, ['lookup', 'budget'], d.lookup.budgetMs, 1),
      ...socketAccess(c, l, 'lookup', milterSocket),
    },
    tor: {
      socks: socksAddress(c, t, ['tor', 'socks'], d.tor.socks) ?? d.tor.socks,
      connectTimeoutMs: c.duration(t, ['tor', 'connect_timeout'], d.tor.connectTimeoutMs, 1),
      dnsSocks: socksAddress(c, t, ['tor', 'dns_socks'], undefined),
    },
    health: {
      enabled: c.bool(hl, ['health', 'enabled'], d.health.enabled),
      intervalMs: c.duration(hl, ['health', 'interval'], d.health.intervalMs, 1000),
      onUnreachable: c.oneOf(hl, ['health', 'on_unreachable'], ['route', 'defer', 'clearnet'] as const, d.health.onUnreachable),
      failuresBeforeUnreachable: c.int(hl, ['health', 'failures_before_unreachable'], d.health.failuresBeforeUnreachable, 1, 1000),
      concurrency: c.int(hl, ['health', 'concurrency'], d.health.concurrency, 1, 64),
      forgetAfterMs: c.duration(hl, ['health', 'forget_after'], d.health.forgetAfterMs, 1000),
    },
    relay: { ...relaySection(c, rl, rlt, rlp), ...socketAccess(c, rl, 'relay', milterSocket) },
    metrics: { listen: metricsListen(c, mt) },
    log: {
      level: c.oneOf(lg, ['log', 'level'], ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, d.log.level),
      format: c.oneOf(lg, ['log', 'format'], ['json', 'pretty', 'auto'] as const, d.log.format),
    },
  };
  checkViaTor(c, config);
  checkRelay(c, config);
  return c.problems.length > 0 ? { ok: false, problems: c.problems } : { ok: true, config: deepFreeze(config) };
}

/** The keys of every section that listens on unix sockets (milter, lookup; relay takes them too). */
export const SOCKET_ACCESS_KEYS = ['socket_owner', 'socket_group', 'socket_mode'] as const;

/** A section's socket_owner, socket_group and socket_mode; each one unset is `inherit`'s. */
function socketAccess(c: Checker, o: Obj, section: string, inherit: SocketAccessConfig): SocketAccessConfig {
  const raw = o['socket_mode'];
  let socketMode = inherit.socketMode;
  if (raw !== undefined && raw !== null) {
    const text = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '';
    if (/^0?[0-7]{3}$/.test(text)) socketMode = parseInt(text, 8);
    else c.problem([section, 'socket_mode'], 'must be an octal mode such as "0660" (quote it in YAML)');
  }
  return {
    socketOwner: c.account(o, [section, 'socket_owner']) ?? inherit.socketOwner,
    socketGroup: c.account(o, [section, 'socket_group']) ?? inherit.socketGroup,
    socketMode,
  };
}

function relaySection(c: Checker, rl: Obj, t: Obj, p: Obj): Omit<Config['relay'], keyof SocketAccessConfig> {
  const d = defaults.relay;
  const heloName = c.string(rl, ['relay', 'helo_name'], d.heloName);
  if (!/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$/.test(heloName)) {
    c.problem(['relay', 'helo_name'], 'must be a host name or an address literal such as [127.0.0.1]');
  }
  const timeout = (key: string, fallback: number): number => c.duration(t, ['relay', 'timeouts', key], fallback, 1000);
  return {
    listen: relayListen(c, rl, 'listen'),
    smtpListen: relayListen(c, rl, 'smtp_listen'),
    postfixNexthop: postfixNexthop(c, rl),
    heloName,
    starttls: c.oneOf(rl, ['relay', 'starttls'], ['off', 'opportunistic', 'required'] as const, d.starttls),
    maxMessageSize: c.int(rl, ['relay', 'max_message_size'], d.maxMessageSize, 1024, 2 ** 40),
    // RFC 5321 §4.5.3.1.8: a server must take at least 100 recipients.
    maxRecipients: c.int(rl, ['relay', 'max_recipients'], d.maxRecipients, 100, 1_000_000),
    maxConnections: c.int(rl, ['relay', 'max_connections'], d.maxConnections, 1, 100_000),
    idleTimeoutMs: c.duration(rl, ['relay', 'idle_timeout'], d.idleTimeoutMs, 1000),
    timeouts: {
      greetingMs: timeout('greeting', d.timeouts.greetingMs),
      mailMs: timeout('mail', d.timeouts.mailMs),
      rcptMs: timeout('rcpt', d.timeouts.rcptMs),
      dataInitMs: timeout('data_init', d.timeouts.dataInitMs),
      dataBlockMs: timeout('data_block', d.timeouts.dataBlockMs),
      dataDoneMs: timeout('data_done', d.timeouts.dataDoneMs),
    },
    pool: {
      idleTimeMs: c.duration(p, ['relay', 'pool', 'idle_time'], d.pool.idleTimeMs, 0),
      maxPerOnion: c.int(p, ['relay', 'pool', 'max_per_onion'], d.pool.maxPerOnion, 1, 10_000),
      maxTotal: c.int(p, ['relay', 'pool', 'max_total'], d.pool.maxTotal, 1, 100_000),
    },
  };
}

/** A Postfix lmtp nexthop: `unix:<path>` or `inet:<host>:<port>`, one word (it ends a transport answer). */
function postfixNexthop(c: Checker, o: Obj): string | undefined {
  const value = c.string(o, ['relay', 'postfix_nexthop'], undefined);
  if (value !== undefined && !/^(?:unix:[^\s,]+|inet:[^\s,]+:[0-9]{1,5})$/.test(value)) {
    c.problem(['relay', 'postfix_nexthop'], 'must be a Postfix lmtp nexthop: unix:/path (relative to the chroot of a chrooted lmtp) or inet:host:port');
  }
  return value;
}

/** The relay delivers whatever onion mail it is handed: a unix socket or loopback only. */
function relayListen(c: Checker, o: Obj, key: string): string | undefined {
  const path = ['relay', key];
  const spec = c.listen(o, path, undefined);
  if (spec === undefined || !parseListenSpec(spec).ok) return spec;
  const problem = relayListenProblem(spec);
  if (problem !== undefined) c.problem(path, problem);
  return spec;
}

function metricsListen(c: Checker, o: Obj): string | undefined {
  const raw = o['listen'];
  // A bare port is written as a YAML number.
  const value = typeof raw === 'number' && Number.isInteger(raw) ? String(raw) : c.string(o, ['metrics', 'listen'], undefined);
  if (value === undefined) return undefined;
  const parsed = parseListenSpec(metricsListenSpec(value));
  if (!parsed.ok) c.problem(['metrics', 'listen'], parsed.reason);
  return value;
}

function socksAddress(c: Checker, o: Obj, path: Path, fallback: string | undefined): string | undefined {
  const value = fallback === undefined ? c.string(o, path, undefined) : c.string(o, path, fallback);
  if (value === undefined) return undefined;
  const parsed = parseSocksEndpoint(value);
  if (!parsed.ok) c.problem(path, parsed.reason);
  return value;
}

/**
 * DNS over Tor rules. An onion resolver is reachable only through Tor. Through Tor, a loopback
 * resolver is meaningless (the exit would have to connect to its own loopback) and resolv.conf
 * names local resolvers, so servers must be listed. The AD bit of an IP resolver reached through
 * Tor crossed an exit relay that can rewrite it at will (DNS over TCP has no integrity of its
 * own), so `dnssec: required` would trust a bit any exit can forge: refused unless the operator
 * marks the server `trust_ad` (e.g. a DNS-over-TLS-terminating relay of their own). An onion
 * resolver's stream is end-to-end authenticated to the service key, so its AD is trusted.
 */
function checkViaTor(c: Checker, config: Config): void {
  config.dns.servers.forEach((server, i) => {
    const path = ['dns', 'servers', i];
    const onion = server.address.toLowerCase().endsWith('.onion');
    if (onion) {
      const v = validateOnion(server.address);
      if (!v.ok) c.problem(path, `"${server.address}": ${v.reason}`);
      else if (!config.dns.viaTor) c.problem(path, `"${server.address}" is an onion resolver: it is reachable only with dns.via_tor: true`);
    }
    if (!config.dns.viaTor) return;
    if (isLoopbackAddress(server.address) || server.address === 'localhost') {
      c.problem(path, `"${server.address}" is a loopback resolver: dns.via_tor sends queries through a Tor exit, which cannot reach it (drop via_tor, or name a remote or onion resolver)`);
    } else if (!onion && config.dns.dnssec === 'required' && !server.trustAd) {
      c.problem(path, `"${server.address}" is reached through a Tor exit with dns.via_tor, which can forge the AD bit: with dns.dnssec: required, use an onion resolver, mark this one trust_ad: true, or set dns.dnssec: optional`);
    }
  });
  if (config.dns.viaTor && config.srv.enabled && config.dns.servers.length === 0) {
    c.problem(['dns', 'via_tor'], 'needs dns.servers: the resolv.conf nameservers are local resolvers, which Tor cannot reach');
  }
}

function checkRelay(c: Checker, config: Config): void {
  const r = config.relay;
  const anyPort = r.listen !== undefined && /:0$/.test(r.listen);
  if (r.listen !== undefined && r.listen === r.smtpListen && !anyPort) c.problem(['relay', 'smtp_listen'], 'must differ from relay.listen');
  if (r.pool.maxPerOnion > r.pool.maxTotal) c.problem(['relay', 'pool', 'max_per_onion'], 'must not exceed relay.pool.max_total');
}

/** Parses YAML text; syntax errors come back as one problem with their line. */
export function parseConfigText(text: string, source: string | undefined): ConfigResult {
  let doc: unknown;
  try {
    doc = yaml.load(text, { schema: yaml.CORE_SCHEMA, filename: source ?? '(config)' });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      // A second document is reported without a mark.
      const mark = (err as { mark?: { line: number } }).mark;
      return { ok: false, problems: [{ path: '(yaml)', line: mark === undefined ? locateSecondDocument(text) : mark.line + 1, message: err.reason }] };
    }
    throw err;
  }
  return validateConfig(doc, text, source);
}

/** Reads and validates a config file. A missing file is a problem, never a silent default. */
export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, problems: [{ path: '(file)', line: undefined, message: `cannot read ${path}: ${code}` }] };
  }
  return parseConfigText(text, path);
}

export function formatProblem(source: string | undefined, p: ConfigProblem): string {
  const where = source === undefined ? '' : `${source}:${p.line === undefined ? '' : `${p.line}:`} `;
  return `${where}${p.path}: ${p.message}`;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
