// Finds the line of a key path (`dns.servers.1.address`) in block-style YAML, so that config
// problems can name file:line. Heuristic by indentation; undefined when it cannot tell (flow
// style, anchors), in which case the key path alone is reported.
export function locateKey(text: string, path: readonly (string | number)[]): number | undefined {
  const { lines, physical } = yamlLines(text);
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
    found = physical[hit];
    from = hit;
    parentIndent = hitIndent;
  }
  return found;
}

/**
 * YAML breaks lines at a lone CR too (so `# note\rkey: 1` holds a key), while people and editors
 * number lines by LF: the lines as YAML reads them, each with the LF-counted line it is on.
 */
function yamlLines(text: string): { readonly lines: readonly string[]; readonly physical: readonly number[] } {
  const lines: string[] = [];
  const physical: number[] = [];
  text.split(/\r?\n/).forEach((line, n) => {
    for (const part of line.split('\r')) {
      lines.push(part);
      physical.push(n + 1);
    }
  });
  return { lines, physical };
}

/**
 * The line where a second YAML document starts: a `---` after content, or content after a `...`
 * (js-yaml reports "expected a single document" without a position).
 */
export function locateSecondDocument(text: string): number | undefined {
  const { lines, physical } = yamlLines(text);
  let content = false;
  let ended = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (/^\s*(#|$)/.test(line) || (!content && line.startsWith('%'))) continue;
    if (/^---(\s|$)/.test(line)) {
      if (content || ended) return physical[i];
    } else if (/^\.\.\.(\s|$)/.test(line)) {
      ended = true;
    } else {
      if (ended) return physical[i];
      content = true;
    }
  }
  return undefined;
}
