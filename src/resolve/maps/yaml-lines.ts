// YAML parsing that keeps line numbers. js-yaml returns plain values; its `listener` option
// reports every node's open/close offsets, from which we rebuild a shadow tree that holds the
// line of each mapping key and sequence item. The plain value stays authoritative: line info is
// best effort and falls back to the enclosing node's line wherever the shadow tree is ambiguous
// (aliases, flow mappings with implicit null values).
import yaml from 'js-yaml';
import type { State } from 'js-yaml';

/** Line information parallel to a parsed value. Lines are 1-based. */
export interface LineInfo {
  readonly line: number;
  /** For mappings: the line of each key and the info of its value, by stringified key. */
  readonly keys?: ReadonlyMap<string, { readonly keyLine: number; readonly value: LineInfo }>;
  /** For sequences: the info of each item, by index. */
  readonly items?: readonly LineInfo[];
}

export type YamlParse =
  | { readonly ok: true; readonly value: unknown; readonly lines: LineInfo }
  | { readonly ok: false; readonly line: number; readonly column: number; readonly reason: string };

interface RawNode {
  readonly open: number;
  close: number;
  kind: string | null;
  result: unknown;
  readonly children: RawNode[];
}

/** Nesting beyond this is refused; maps need three levels. */
const MAX_DEPTH = 20;

/** Parses one YAML document with the CORE schema (no custom tags, no code execution). */
export function parseYamlWithLines(text: string, filename: string): YamlParse {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const roots: RawNode[] = [];
  const stack: RawNode[] = [];
  const listener = (event: 'open' | 'close', state: State): void => {
    if (event === 'open') {
      stack.push({ open: state.position, close: -1, kind: null, result: undefined, children: [] });
      return;
    }
    const node = stack.pop();
    if (node === undefined) return;
    node.close = state.position;
    node.kind = state.kind;
    node.result = state.result;
    (stack.at(-1)?.children ?? roots).push(node);
  };
  let documents: unknown[];
  try {
    documents = yaml.loadAll(source, null, { schema: yaml.CORE_SCHEMA, filename, listener, maxDepth: MAX_DEPTH } as yaml.LoadOptions);
  } catch (err) {
    return yamlFailure(err);
  }
  const builder = new LineBuilder(source, lineStarts(source));
  const [root, second] = roots;
  if (documents.length > 1) {
    const line = second === undefined ? 1 : builder.build(second).line;
    return { ok: false, line, column: 1, reason: 'a map file must hold a single YAML document; a second one starts here' };
  }
  if (root === undefined) return { ok: true, value: documents[0], lines: { line: 1 } };
  return { ok: true, value: documents[0], lines: builder.build(unwrap(root)) };
}

function yamlFailure(err: unknown): YamlParse {
  if (err instanceof yaml.YAMLException) {
    const mark = (err as { mark?: { line?: number; column?: number } }).mark;
    return { ok: false, line: (mark?.line ?? 0) + 1, column: (mark?.column ?? 0) + 1, reason: err.reason };
  }
  return { ok: false, line: 1, column: 1, reason: err instanceof Error ? err.message : String(err) };
}

class LineBuilder {
  readonly #source: string;
  readonly #starts: readonly number[];

  constructor(source: string, starts: readonly number[]) {
    this.#source = source;
    this.#starts = starts;
  }

  build(node: RawNode): LineInfo {
    const line = this.#nodeLine(node);
    if (node.kind === 'mapping') return { line, ...this.#mappingKeys(node) };
    if (node.kind === 'sequence' && Array.isArray(node.result) && node.children.length === node.result.length) {
      return { line, items: node.children.map((child) => this.build(unwrap(child))) };
    }
    return { line };
  }

  #mappingKeys(node: RawNode): Pick<LineInfo, 'keys'> {
    const children = node.children.map(unwrap);
    const keys = new Map<string, { keyLine: number; value: LineInfo }>();
    for (let i = 0; i < children.length; i++) {
      const key = children[i];
      if (key === undefined) break;
      const next = children[i + 1];
      const keyLine = this.#nodeLine(key);
      let value: LineInfo = { line: keyLine };
      if (next !== undefined && this.#isValueSeparator(key.close, next.open)) {
        value = next.kind === null ? { line: keyLine } : this.build(next);
        i++;
      }
      keys.set(String(key.result), { keyLine, value });
    }
    const result = node.result;
    const isConsistent =
      typeof result === 'object' && result !== null && keys.size === Object.keys(result).length;
    return isConsistent ? { keys } : {};
  }

  /** True when the text between a key and the next node, comments aside, starts with ':'. */
  #isValueSeparator(from: number, to: number): boolean {
    const at = this.#skipBlank(from, to);
    return at < to && this.#source.charCodeAt(at) === 0x3a;
  }

  /** The line of a node's first content character; an empty node keeps the line where it opened. */
  #nodeLine(node: RawNode): number {
    const at = this.#skipBlank(node.open, node.close);
    return lineOf(this.#starts, at < node.close ? at : node.open);
  }

  #skipBlank(from: number, to: number): number {
    const source = this.#source;
    let at = from;
    while (at < to) {
      const code = source.charCodeAt(at);
      if (code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) {
        at++;
      } else if (code === 0x23) {
        const end = source.indexOf('\n', at);
        at = end < 0 ? to : end + 1;
      } else {
        break;
      }
    }
    return at;
  }
}

/**
 * js-yaml wraps some nodes (block sequence entries) in a second node with the same extent;
 * the inner one carries the children.
 */
function unwrap(node: RawNode): RawNode {
  let current = node;
  for (;;) {
    const only = current.children.length === 1 ? current.children[0] : undefined;
    if (only?.close !== current.close || only.kind !== current.kind) return current;
    current = only;
  }
}

function lineStarts(source: string): number[] {
  const starts = [0];
  for (let at = source.indexOf('\n'); at >= 0; at = source.indexOf('\n', at + 1)) starts.push(at + 1);
  return starts;
}

function lineOf(starts: readonly number[], offset: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) low = mid;
    else high = mid - 1;
  }
  return low + 1;
}
