// `metrics.listen` spellings: a bare port (binds 127.0.0.1), `host:port`, `[v6]:port`, or the
// `inet:`/`unix:` listen specs. Pure; kept apart from the server so config validation stays light.
export function metricsListenSpec(value: string): string {
  if (/^\d{1,5}$/.test(value)) return `inet:${value}`;
  return /^(inet6?|unix|local):/i.test(value) ? value : `inet:${value}`;
}
