// The SMTP listeners a torrc's onion services forward to: `HiddenServicePort 25 [TARGET]`, TARGET
// `addr:port`, `port` or absent (127.0.0.1 and the virtual port). Unix-socket targets are left
// out: check-relay audits TCP listeners. Pure.

export function onionSmtpTargets(torrc: string): { host: string; port: number }[] {
  const out: { host: string; port: number }[] = [];
  for (const raw of torrc.split('\n')) {
    const words = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (words[0]?.toLowerCase() !== 'hiddenserviceport' || words[1] !== '25') continue;
    const target = words[2] ?? '25';
    if (target.startsWith('unix:')) continue;
    const m = /^(?:\[?([^\]]+?)\]?:)?([0-9]{1,5})$/.exec(target);
    if (m === null) continue;
    out.push({ host: m[1] ?? '127.0.0.1', port: Number(m[2]) });
  }
  return out;
}
