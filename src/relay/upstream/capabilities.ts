// What an onion's SMTP server offered, read from its EHLO reply (RFC 5321 §4.1.1.1, one keyword
// per line after the first). Pure: no I/O, never throws.
import { ehloCapabilities, type SmtpReply } from '../../tor/smtp-reply.ts';
import type { UpstreamCapabilities } from './api.ts';

/** After a HELO fallback: no extension may be used. */
export function heloCapabilities(tls: boolean): UpstreamCapabilities {
  return { pipelining: false, size: undefined, eightBitMime: false, smtpUtf8: false, dsn: false, enhancedStatusCodes: false, starttls: false, tls };
}

type Flag = 'pipelining' | 'eightBitMime' | 'smtpUtf8' | 'dsn' | 'enhancedStatusCodes' | 'starttls';

const FLAGS: Readonly<Record<string, Flag>> = {
  PIPELINING: 'pipelining',
  '8BITMIME': 'eightBitMime',
  SMTPUTF8: 'smtpUtf8',
  DSN: 'dsn',
  ENHANCEDSTATUSCODES: 'enhancedStatusCodes',
  STARTTLS: 'starttls',
};

/** Reads a 250 EHLO reply; `tls` says whether it was given under TLS. */
export function parseEhloReply(reply: SmtpReply, tls: boolean): UpstreamCapabilities {
  const caps: { -readonly [K in keyof UpstreamCapabilities]: UpstreamCapabilities[K] } = { ...heloCapabilities(tls) };
  for (const line of ehloCapabilities(reply)) {
    const [keyword = '', first] = line.split(' ');
    if (keyword === 'SIZE') caps.size = sizeLimit(first);
    const flag = FLAGS[keyword];
    if (flag !== undefined) caps[flag] = true;
  }
  // RFC 3207 §4.2: a server must not offer STARTTLS again under TLS; if it does, it is not offered.
  if (tls) caps.starttls = false;
  return caps;
}

/**
 * RFC 1870 §4: `SIZE` alone or `SIZE 0` means no fixed limit; a limit we cannot read is treated
 * the same (the server still refuses what it cannot take, with its own reply).
 */
function sizeLimit(param: string | undefined): number {
  if (param === undefined || !/^\d{1,15}$/.test(param)) return 0;
  return Number(param);
}
