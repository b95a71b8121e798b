// man(7) text: escaping and the few macros the pages use. Pure. No blank lines (mandoc -T lint
// warns about them), every text line escaped so that a leading dot or quote stays text.

/** Text for a roff line: backslashes and hyphens escaped, a leading control character defused. */
export function roffText(text: string): string {
  const escaped = text.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

export const bold = (text: string): string => `\\fB${roffText(text)}\\fR`;
export const italic = (text: string): string => `\\fI${roffText(text)}\\fR`;

/** A filled paragraph. */
export function paragraph(text: string): string[] {
  return ['.PP', roffText(text.replace(/\s+/g, ' ').trim())];
}

/** A tagged paragraph: `tag` is already roff (bold/italic applied), `body` plain text. */
export function tagged(tag: string, body: string): string[] {
  return ['.TP', tag, ...(body.trim() === '' ? [] : [roffText(body.replace(/\s+/g, ' ').trim())])];
}

/** Literal lines (examples), not filled. */
export function literal(lines: readonly string[]): string[] {
  return ['.PP', '.RS', '.nf', ...lines.map((l) => (l === '' ? '\\&' : roffText(l))), '.fi', '.RE'];
}

/** The title line: name, section, date (YYYY-MM-DD), source, manual. */
export function title(name: string, section: number, date: string, source: string, manual: string): string {
  // Paths, options and onion names must not be hyphenated or stretched.
  return `.TH ${name.toUpperCase()} ${section} ${date} "${source}" "${manual}"\n.nh\n.ad l`;
}

/** The build date, or SOURCE_DATE_EPOCH's when set (reproducible builds). */
export function pageDate(env: NodeJS.ProcessEnv = process.env): string {
  const epoch = env['SOURCE_DATE_EPOCH'];
  const date = epoch !== undefined && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
  return date.toISOString().slice(0, 10);
}

const MAX_LINE = 79;

/** Breaks a filled text line at spaces so no input line is longer than mandoc's 80 bytes. */
function breakLine(line: string): string[] {
  if (line.startsWith('.') || line.length <= MAX_LINE) return [line];
  const out: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current !== '' && current.length + 1 + word.length > MAX_LINE) {
      out.push(current);
      current = word;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  if (current !== '') out.push(current);
  // A line that now starts with a control character would become a request.
  return out.map((l) => (/^[.']/.test(l) ? `\\&${l}` : l));
}

/** The page text: a paragraph macro right after a heading dropped (it is implied), long lines broken. */
export function finishPage(lines: readonly string[]): string {
  const out: string[] = [];
  for (const line of lines) {
    const previous = out[out.length - 1] ?? '';
    if (line === '.PP' && /^\.(SH|SS)\b/.test(previous)) continue;
    out.push(...breakLine(line));
  }
  return out.join('\n') + '\n';
}
