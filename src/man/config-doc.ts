// examples/config.yml read as documentation (pure: text in, entries out). The file's rules, which
// its own header states: a key's value is its default unless its comment says `default: ...`
// (`default: none`: unset; `default: as <key>`: that key's); a commented-out key (`# key: value`)
// is documented too, unset unless its comment says otherwise; the comment lines right above a key
// and its trailing comment describe it; commented list items (`#  - x`) right after a key are
// examples of its value. The first comment block is the file's description.

export interface DocumentedKey {
  readonly path: string;
  readonly section: string;
  readonly key: string;
  /** The value as written (YAML text), commented out or not. */
  readonly value: string;
  readonly commented: boolean;
  /** The `default: ...` text of its comment, if any. */
  readonly defaultText: string | undefined;
  /** What the comments say about it, annotation removed. */
  readonly doc: string;
  /** Commented list items that follow it (example values). */
  readonly examples: readonly string[];
  readonly line: number;
}

export interface ConfigDoc {
  readonly description: string;
  readonly keys: readonly DocumentedKey[];
  /** Section comments: the comment block right above a section line. */
  readonly sections: ReadonlyMap<string, string>;
}

const KEY = /^( *)([a-z_]+):(?:[ \t]+(.*))?$/;
const COMMENTED_KEY = /^( *)#[ \t]+([a-z_]+):(?:[ \t]+(.*))?$/;
const COMMENTED_ITEM = /^ *#[ \t]*- (.*)$/;
const COMMENT = /^ *#[ \t]?(.*)$/;

/** Splits `value  # comment` at the first # that is outside quotes and after white space. */
export function splitComment(rest: string): { value: string; comment: string } {
  let quote: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(rest[i - 1] ?? ''))) {
      return { value: rest.slice(0, i).trim(), comment: rest.slice(i + 1).trim() };
    }
  }
  return { value: rest.trim(), comment: '' };
}

/** The `default: ...` annotation of a trailing comment, and the comment without it. */
export function splitDefault(comment: string): { defaultText: string | undefined; rest: string } {
  const m = /(?:^|;\s*)default:\s*(none(?:\s*\([^)]*\))?|as\s+[a-z_.]+|[^;]+?)\s*(?:;|$)/.exec(comment);
  if (m === null) return { defaultText: undefined, rest: comment };
  const rest = (comment.slice(0, m.index) + comment.slice(m.index + m[0].length)).replace(/^;\s*|;\s*$/g, '').trim();
  return { defaultText: m[1]?.trim(), rest };
}

/**
 * Parses the example. `isKey(section, key)` says which names are configuration keys, so that a
 * prose comment such as `# tempfail: a failed lookup defers` is not taken for a commented-out key.
 */
export function parseConfigDoc(text: string, isKey: (section: string, key: string) => boolean): ConfigDoc {
  const lines = text.split('\n');
  const keys: DocumentedKey[] = [];
  const sections = new Map<string, string>();
  const description: string[] = [];
  let inHeader = true;
  let pending: string[] = [];
  // The sections open at a line, outermost first (`relay`, then `relay.timeouts`), by indentation.
  let open: { readonly indent: number; readonly path: string }[] = [];
  let last: { key: DocumentedKey; examples: string[] } | undefined;
  const sectionAt = (indent: number): string => open.filter((s) => s.indent < indent).at(-1)?.path ?? '';

  const add = (indent: number, key: string, rest: string | undefined, commented: boolean, line: number): void => {
    open = open.filter((s) => s.indent < indent);
    const inSection = sectionAt(indent);
    const { value, comment } = splitComment(rest ?? '');
    // A key without a value opens a section; its trailing comment joins the section's description.
    if (!commented && (value === '' || value === '{}')) {
      const path = inSection === '' ? key : `${inSection}.${key}`;
      open.push({ indent, path });
      const about = [...pending, comment].filter((t) => t !== '').join(' ');
      if (about !== '') sections.set(path, about);
      pending = [];
      last = undefined;
      return;
    }
    const { defaultText, rest: note } = splitDefault(comment);
    const examples: string[] = [];
    const entry: DocumentedKey = {
      path: inSection === '' ? key : `${inSection}.${key}`,
      section: inSection,
      key,
      value,
      commented,
      defaultText,
      doc: [...pending, note].filter((t) => t !== '').join(' '),
      examples,
      line,
    };
    keys.push(entry);
    last = { key: entry, examples };
    pending = [];
  };

  lines.forEach((raw, i) => {
    const line = raw.replace(/\s+$/, '');
    if (line === '') {
      if (inHeader && description.length > 0) inHeader = false;
      pending = [];
      return;
    }
    const key = KEY.exec(line);
    if (key !== null) {
      inHeader = false;
      add(key[1]?.length ?? 0, key[2] ?? '', key[3], false, i + 1);
      return;
    }
    const item = COMMENTED_ITEM.exec(line);
    if (item !== null && last !== undefined && pending.length === 0) {
      last.examples.push(item[1] ?? '');
      return;
    }
    const commented = COMMENTED_KEY.exec(line);
    const indent = commented?.[1]?.length ?? 0;
    if (commented !== null && isKey(sectionAt(indent), commented[2] ?? '')) {
      inHeader = false;
      add(indent, commented[2] ?? '', commented[3], true, i + 1);
      return;
    }
    const comment = COMMENT.exec(line);
    if (comment !== null) {
      if (inHeader) description.push(comment[1] ?? '');
      else pending.push(comment[1] ?? '');
      last = undefined;
    }
  });
  return { description: description.join(' '), keys, sections };
}
