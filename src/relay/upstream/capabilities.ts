// What an onion's SMTP server offered, read from its EHLO reply (RFC 5321 §4.1.1.1, one keyword
// per line after the first). Pure: no I/O, never throws.
import { ehloCapabilities, type SmtpReply } from '../../tor/smtp-reply.ts';
import type { UpstreamCapabilities } from './api.ts';

/** After a HELO fallback: no extension may be used. */
export function heloCapabilities(tls: boolean): UpstreamCapabilities {
  return { pipelining: false, size: undefined, eightBitMime: false, smtpUtf8: false, dsn: false, enhancedStatusCodes: false, starttls: false, tls };
}

/** Reads a 250 EHLO reply; `tls` says whether it was given under TLS. */
export function parseEhloReply(reply: SmtpReply, tls: boolean): UpstreamCapabilities {
  let caps = { ...heloCapabilities(tls) };
  for (const line of ehloCapabilities(reply)) {
    const [keyword = '', first] = line.split(' ');
    switch (keyword) {
      case 'PIPELINING':
        caps = { ...caps, pipelining: true };
        break;
      case 'SIZE':
        caps = { ...caps, size: sizeLimit(first) };
        break;
      case '8BITMIME':
        caps = { ...caps, eightBitMime: true };
        break;
      case 'SMTPUTF8':
        caps = { ...caps, smtpUtf8: true };
        break;
      case 'DSN':
        caps = { ...caps, dsn: true };
        break;
      case 'ENHANCEDSTATUSCODES':
        caps = { ...caps, enhancedStatusCodes: true };
        break;
      case 'STARTTLS':
        // RFC 3207 §4.2: a server must not offer it again under TLS; if it does, it is not offered.
        caps = { ...caps, starttls: !tls };
        break;
      default:
        break;
    }
  }
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
