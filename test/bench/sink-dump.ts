// What reached smtp-sink, from its `-D` dump file: one transaction per block, each starting with
// the envelope smtp-sink saw (X-Client-Addr, X-Client-Proto, X-Helo-Args, X-Mail-Args, one
// X-Rcpt-Args per recipient), then the message as received. Pure: the caller reads the file.

export interface SinkTransaction {
  /** The RCPT TO addresses, angle brackets and parameters removed. */
  readonly recipients: readonly string[];
  /** The message's Message-Id header value, or undefined when it has none. */
  readonly messageId: string | undefined;
}

const START = 'X-Client-Addr: ';

export function parseSinkDump(text: string): SinkTransaction[] {
  const lines = text.split(/\r?\n/);
  const out: SinkTransaction[] = [];
  let i = 0;
  while (i < lines.length) {
    // A transaction starts at an X-Client-Addr line followed by X-Client-Proto, at the start of the
    // file or after a blank line, so a body line that happens to look like one does not split a message.
    if (!(lines[i] ?? '').startsWith(START) || !(lines[i + 1] ?? '').startsWith('X-Client-Proto: ') || (i > 0 && lines[i - 1] !== '')) {
      i++;
      continue;
    }
    const recipients: string[] = [];
    i++;
    for (; i < lines.length && /^X-[A-Za-z-]+-(Addr|Proto|Args): /.test(lines[i] ?? ''); i++) {
      const rcpt = /^X-Rcpt-Args: <([^>]*)>/.exec(lines[i] ?? '');
      if (rcpt?.[1] !== undefined) recipients.push(rcpt[1]);
    }
    let messageId: string | undefined;
    for (; i < lines.length && lines[i] !== ''; i++) {
      const id = /^Message-Id:\s*(\S.*?)\s*$/i.exec(lines[i] ?? '');
      if (id?.[1] !== undefined && messageId === undefined) messageId = id[1];
    }
    out.push({ recipients, messageId });
  }
  return out;
}

/**
 * Problems with a burst's arrivals, none when every expected recipient arrived exactly once, in a
 * transaction of its own, and no two transactions carry the same Message-Id.
 */
export function arrivalProblems(transactions: readonly SinkTransaction[], expected: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const t of transactions) {
    if (t.recipients.length !== 1) problems.push(`a transaction with ${t.recipients.length} recipients: ${t.recipients.join(', ')}`);
    for (const r of t.recipients) seen.set(r, (seen.get(r) ?? 0) + 1);
  }
  const wanted = new Set(expected);
  const missing = expected.filter((r) => !seen.has(r));
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([r, n]) => `${r} x${n}`);
  const unexpected = [...seen.keys()].filter((r) => !wanted.has(r));
  if (missing.length > 0) problems.push(`${missing.length} never arrived: ${missing.slice(0, 5).join(', ')}`);
  if (duplicated.length > 0) problems.push(`${duplicated.length} arrived more than once: ${duplicated.slice(0, 5).join(', ')}`);
  if (unexpected.length > 0) problems.push(`${unexpected.length} unexpected: ${unexpected.slice(0, 5).join(', ')}`);
  const ids = new Map<string, number>();
  let withoutId = 0;
  for (const t of transactions) {
    if (t.messageId === undefined) withoutId++;
    else ids.set(t.messageId, (ids.get(t.messageId) ?? 0) + 1);
  }
  if (withoutId > 0) problems.push(`${withoutId} messages without a Message-Id`);
  const repeatedIds = [...ids].filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`);
  if (repeatedIds.length > 0) problems.push(`${repeatedIds.length} Message-Ids seen more than once: ${repeatedIds.slice(0, 5).join(', ')}`);
  return problems;
}

/** smtp-source -N: the n-th message (1-based) goes to `<n><local>@<domain>`. */
export function smtpSourceRecipients(recipient: string, messages: number): string[] {
  return Array.from({ length: messages }, (_, i) => `${i + 1}${recipient}`);
}
