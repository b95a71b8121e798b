import type { EnvelopeAddress } from './types.ts';

/**
 * MAIL/RCPT addresses arrive as the SMTP token with brackets (`<a@b>`, `<>`), or without them from
 * Postfix non_smtpd_milters and test tools (`a@b`, empty null sender): strip one optional pair.
 */
export function envelopeAddress(raw: string, args: readonly string[]): EnvelopeAddress {
  const address = raw.length >= 2 && raw.startsWith('<') && raw.endsWith('>') ? raw.slice(1, -1) : raw;
  return { raw, address, args };
}
