// Where the relay may listen: unix sockets or loopback TCP only. The relay delivers whatever
// onion-routed mail it is handed, so reachable from the network it would be an open relay to the
// onions. Pure.
import { parseListenSpec } from '../../net/listen-spec.ts';
import { isLoopbackAddress } from '../../resolve/dns/resolv-conf.ts';

/** Why a listen spec may not serve the relay, or undefined when it may. */
export function relayListenProblem(spec: string): string | undefined {
  const parsed = parseListenSpec(spec);
  if (!parsed.ok) return parsed.reason;
  const target = parsed.target;
  if (target.kind === 'unix') return undefined;
  if (target.host === 'localhost' || isLoopbackAddress(target.host)) return undefined;
  return `${spec}: the relay listens on unix sockets or loopback addresses only (reachable from the network it would be an open relay to the onions)`;
}
