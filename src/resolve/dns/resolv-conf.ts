// resolv.conf(5) parsing: the nameserver lines and the options we honour. Pure.
import { BlockList, isIP } from 'node:net';

/** A DNS server the stub resolver may ask. */
export interface DnsServer {
  readonly address: string;
  readonly port: number;
  /**
   * Whether the AD bit from this server counts. Defaults to true only for loopback servers
   * (127.0.0.0/8, ::1): RFC 4035 §4.9.3 lets a stub rely on AD only from a trusted resolver over a
   * secure channel, and loopback is the one channel we can vouch for. Set it for a remote
   * validating resolver reached over a trusted path (like glibc's `options trust-ad`).
   */
  readonly trustAd: boolean;
}

export interface ResolvConf {
  readonly servers: readonly DnsServer[];
  /** `options timeout:N`, in ms (resolv.conf gives seconds). */
  readonly attemptTimeoutMs?: number;
  /** `options attempts:N`. */
  readonly attempts?: number;
  /** Lines we ignored, as `line N: why`, for a startup warning. */
  readonly ignored: readonly string[];
}

/** glibc uses at most three nameservers (MAXNS); so do we, for the same reasons. */
export const MAX_RESOLV_CONF_SERVERS = 3;

export function parseResolvConf(text: string): ResolvConf {
  const servers: DnsServer[] = [];
  const ignored: string[] = [];
  let trustAll = false;
  let attemptTimeoutMs: number | undefined;
  let attempts: number | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const words = (lines[i] ?? '').replace(/[#;].*$/, '').trim().split(/\s+/).filter(Boolean);
    const [keyword, ...args] = words;
    if (keyword === 'nameserver') {
      const address = (args[0] ?? '').replace(/%.*$/, ''); // drop an IPv6 zone id (fe80::1%eth0)
      if (isIP(address) === 0) ignored.push(`line ${i + 1}: nameserver ${JSON.stringify(args[0] ?? '')} is not an IP address`);
      else if (servers.length >= MAX_RESOLV_CONF_SERVERS) ignored.push(`line ${i + 1}: more than ${MAX_RESOLV_CONF_SERVERS} nameservers`);
      else servers.push({ address, port: 53, trustAd: isLoopbackAddress(address) });
    } else if (keyword === 'options') {
      for (const option of args) {
        if (option === 'trust-ad') trustAll = true;
        const timeout = /^timeout:(\d{1,3})$/.exec(option)?.[1];
        if (timeout !== undefined && Number(timeout) > 0) attemptTimeoutMs = Number(timeout) * 1000;
        const tries = /^attempts:(\d{1,2})$/.exec(option)?.[1];
        if (tries !== undefined && Number(tries) > 0) attempts = Number(tries);
      }
    }
  }
  return {
    servers: trustAll ? servers.map((s) => ({ ...s, trustAd: true })) : servers,
    ...(attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs }),
    ...(attempts === undefined ? {} : { attempts }),
    ignored,
  };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (any spelling) and IPv4-mapped loopback (::ffff:127.x.y.z). */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase();
  const family = isIP(a);
  if (family === 4) return LOOPBACK.check(a, 'ipv4');
  if (family !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)?.[1];
  return mapped === undefined ? LOOPBACK.check(a, 'ipv6') : LOOPBACK.check(mapped, 'ipv4');
}
