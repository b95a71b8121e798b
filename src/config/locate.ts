// Finds the line of a key path (`dns.servers.1.address`) in block-style YAML, so that config
// problems can name file:line. Heuristic by indentation; undefined when it cannot tell (flow
// style, anchors), in which case the key path alone is reported.
export function locateKey(text: string, path: readonly (string | number)[]): number | undefined {
  const lines = text.split(/\r?\n/);
  let from = 0;
  let parentIndent = -1;
  let found: number | undefined;
  for (const part of path) {
    let hit: number | undefined;
    let hitIndent = -1;
    let seq = -1;
    for (let i = from; i < lines.length; i++) {
      const line = lines[i] ?? '';
      if (/^\s*(#|$)/.test(line)) continue;
      const indent = line.length - line.trimStart().length;
      if (i > from && indent <= parentIndent) break;
      if (typeof part === 'number') {
        const dash = /^(\s*)-(\s+|$)/.exec(line);
        if (dash !== null && (dash[1]?.length ?? 0) > parentIndent) {
          seq++;
          if (seq === part) {
            hit = i;
            hitIndent = dash[1]?.length ?? 0;
            break;
          }
        }
      } else {
        const m = /^(\s*(?:-\s+)?)(["']?)([^"':#]+)\2\s*:(\s|$)/.exec(line);
        if (m !== null && m[3] === part && indent > parentIndent) {
          hit = i;
          hitIndent = (m[1] ?? '').length;
          break;
        }
      }
    }
    if (hit === undefined) return found;
    found = hit + 1;
    from = hit;
    parentIndent = hitIndent;
  }
  return found;
}
