// Building and reading RFC 5322 messages in tests.

export interface HeaderField {
  readonly name: string;
  /** Unfolded value without the leading space after the colon. */
  readonly value: string;
}

/** Builds a message with CRLF line ends from header pairs (in order) and a body. */
export function buildMessage(headers: readonly (readonly [string, string])[], body = 'test body\r\n'): string {
  const head = headers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return `${head}\r\n${body.replace(/\r?\n/g, '\r\n')}`;
}

/**
 * An 8-bit UTF-8 message (RFC 6532: UTF-8 in the From and To fields too) with a body line that
 * starts with a dot, a lone NBSP and a lone é: what an SMTPUTF8 proof sends and expects byte for byte.
 */
export function utf8Message(from: string, to: string, subject: string, messageId: string): string {
  return [
    `From: ${from}`,
    `To: ${to}`,
    'Date: Fri, 04 Dec 2026 01:00:00 +0000',
    `Message-ID: <${messageId}>`,
    `Subject: ${subject}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Grüße, ½ € ✓ — 日本語',
    '.a line that starts with a dot',
    '\u00a0',
    'é',
    '',
  ].join('\r\n');
}

/** The header section of a message, unfolded, in order. */
export function headerFields(message: string): HeaderField[] {
  const end = message.search(/\r?\n\r?\n/);
  const head = end === -1 ? message : message.slice(0, end);
  const fields: HeaderField[] = [];
  let current: { name: string; value: string } | undefined;
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && current !== undefined) {
      current.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (current !== undefined) fields.push(current);
    current = { name: line.slice(0, colon), value: line.slice(colon + 1).trim() };
  }
  if (current !== undefined) fields.push(current);
  return fields;
}

/** Values of every header named `name` (case-insensitive), in message order. */
export function headerValues(message: string, name: string): string[] {
  const wanted = name.toLowerCase();
  return headerFields(message)
    .filter((f) => f.name.toLowerCase() === wanted)
    .map((f) => f.value);
}
