// A stand-in for what Exim needs in front of Tor: the local resolver an Exim host points
// /etc/resolv.conf at, which answers `.onion` names the way Tor's DNSPort does with
// `AutomapHostsOnResolve 1` (an unused address from `VirtualAddrNetworkIPv4`, the same one for the
// same name) and forwards every other query, untouched, to the ordinary DNS server. UDP only, as
// Tor's DNSPort. `.onion` names never go upstream: that is what the tests check on the upstream.
//
// The SOCKS side of automapping (Tor connecting the virtual address to the onion) is done by the
// caller: `onMap(onion, address)` fires for every new mapping, e.g. to add a fake-Tor route for it.
import { createSocket } from 'node:dgram';
import { decode, encode, RECURSION_AVAILABLE, RECURSION_DESIRED, type DecodedPacket } from 'dns-packet';

export interface TorDnsOptions {
  /** Where to listen; port 53 when it serves as the namespace's resolv.conf nameserver. */
  readonly address: string;
  readonly port: number;
  /** The ordinary DNS server for everything but `.onion`. */
  readonly upstream: { readonly address: string; readonly port: number };
  /** First address of the virtual network, e.g. `10.192.0.1` (Tor's VirtualAddrNetworkIPv4 10.192.0.0/10). */
  readonly firstAddress: string;
  readonly onMap?: (onion: string, address: string) => void;
}

export interface TorDns {
  /** onion name (lower case) -> virtual address. */
  readonly mappings: ReadonlyMap<string, string>;
  onionFor(address: string): string | undefined;
  /** Every question received, lower-cased, as `<name> <type>`. */
  readonly questions: readonly string[];
  close(): Promise<void>;
}

export async function startTorDns(options: TorDnsOptions): Promise<TorDns> {
  const mappings = new Map<string, string>();
  const reverse = new Map<string, string>();
  const questions: string[] = [];
  const base = options.firstAddress.split('.').map(Number);
  const start = (((base[0] ?? 0) << 24) | ((base[1] ?? 0) << 16) | ((base[2] ?? 0) << 8) | (base[3] ?? 0)) >>> 0;
  const map = (onion: string): string => {
    const known = mappings.get(onion);
    if (known !== undefined) return known;
    const n = start + mappings.size;
    const address = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    mappings.set(onion, address);
    reverse.set(address, onion);
    options.onMap?.(onion, address);
    return address;
  };

  const server = createSocket('udp4');
  const upstream = createSocket('udp4');
  // Forwarded queries keep their ID; several clients might pick the same one, so key by ID and name.
  const waiting = new Map<string, { port: number; address: string }>();

  server.on('message', (msg, rinfo) => {
    let query: DecodedPacket;
    try {
      query = decode(msg);
    } catch {
      return;
    }
    const q = query.questions?.[0];
    if (q === undefined) return;
    const name = q.name.toLowerCase().replace(/\.$/, '');
    questions.push(`${name} ${q.type}`);
    if (name.endsWith('.onion') || name === 'onion') {
      // Tor ignores labels in front of the onion name; a malformed onion name gets NXDOMAIN.
      const onion = /(?:^|\.)([a-z2-7]{56}\.onion)$/.exec(name)?.[1];
      const answers = onion !== undefined && q.type === 'A' ? [{ name: q.name, type: 'A' as const, class: 'IN' as const, ttl: 60, data: map(onion) }] : [];
      const reply = encode({
        id: query.id ?? 0,
        type: 'response',
        flags: RECURSION_DESIRED | RECURSION_AVAILABLE | (onion === undefined ? 3 : 0),
        questions: [q],
        answers,
      });
      server.send(reply, rinfo.port, rinfo.address);
      return;
    }
    waiting.set(`${String(query.id ?? 0)} ${name}`, { port: rinfo.port, address: rinfo.address });
    upstream.send(msg, options.upstream.port, options.upstream.address);
  });
  upstream.on('message', (msg) => {
    let reply: DecodedPacket;
    try {
      reply = decode(msg);
    } catch {
      return;
    }
    const name = (reply.questions?.[0]?.name ?? '').toLowerCase().replace(/\.$/, '');
    const key = `${String(reply.id ?? 0)} ${name}`;
    const client = waiting.get(key);
    if (client === undefined) return;
    waiting.delete(key);
    server.send(msg, client.port, client.address);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.bind(options.port, options.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await new Promise<void>((resolve) => upstream.bind(0, '127.0.0.1', resolve));

  return {
    mappings,
    onionFor: (address) => reverse.get(address),
    questions,
    close: async () => {
      await Promise.all([new Promise<void>((r) => server.close(r)), new Promise<void>((r) => upstream.close(r))]);
    },
  };
}
