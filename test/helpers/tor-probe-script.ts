// Runs probeOnion for raw targets (no validation on our side, so Tor's own verdict on bad onions
// shows) and prints one JSON line per target: { result, text }. For tests that must run inside
// a network namespace: `node tor-probe-script.js <socks> <timeoutMs> <host:port>...`.
import { probeOnion, describeProbe } from '../../src/tor/probe.ts';
import { parseSocksEndpoint } from '../../src/tor/socks-endpoint.ts';

const [socks = '', timeout = '', ...targets] = process.argv.slice(2);
const endpoint = parseSocksEndpoint(socks);
if (!endpoint.ok) throw new Error(endpoint.reason);
for (const target of targets) {
  const colon = target.lastIndexOf(':');
  const result = await probeOnion({ proxy: endpoint.endpoint, onion: target.slice(0, colon), port: Number(target.slice(colon + 1)), connectTimeoutMs: Number(timeout) });
  process.stdout.write(JSON.stringify({ result, text: describeProbe(result) }) + '\n');
}
