/**
 * Errors with stable codes. Codes never change once released: operators grep logs for them
 * and tests assert on them instead of on message text.
 */
export const ErrorCode = {
  MilterFrameLength: 'ONIONMX_MILTER_FRAME_LENGTH',
  MilterTruncated: 'ONIONMX_MILTER_TRUNCATED',
  MilterUnterminatedString: 'ONIONMX_MILTER_UNTERMINATED_STRING',
  MilterTrailingBytes: 'ONIONMX_MILTER_TRAILING_BYTES',
  MilterUnknownCommand: 'ONIONMX_MILTER_UNKNOWN_COMMAND',
  MilterBadCommand: 'ONIONMX_MILTER_BAD_COMMAND',
  MilterNegotiation: 'ONIONMX_MILTER_NEGOTIATION',
  MilterSequence: 'ONIONMX_MILTER_SEQUENCE',
  MilterBadReply: 'ONIONMX_MILTER_BAD_REPLY',
  MilterModificationNotAllowed: 'ONIONMX_MILTER_MODIFICATION_NOT_ALLOWED',
  MilterBadHeader: 'ONIONMX_MILTER_BAD_HEADER',
  MilterHookFailed: 'ONIONMX_MILTER_HOOK_FAILED',
  MilterHookTimeout: 'ONIONMX_MILTER_HOOK_TIMEOUT',
  MilterIdleTimeout: 'ONIONMX_MILTER_IDLE_TIMEOUT',
  MilterClosed: 'ONIONMX_MILTER_CLOSED',
  ListenSpec: 'ONIONMX_LISTEN_SPEC',
  Config: 'ONIONMX_CONFIG',
  MapLoad: 'ONIONMX_MAP_LOAD',
  DnsMalformed: 'ONIONMX_DNS_MALFORMED',
  DnsTimeout: 'ONIONMX_DNS_TIMEOUT',
  Usage: 'ONIONMX_USAGE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class OnionMxError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'OnionMxError';
  }
}

/** A peer broke a wire protocol. The connection that produced it is closed; the daemon lives on. */
export class ProtocolError extends OnionMxError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'ProtocolError';
  }
}

/** A configuration problem, with the key path (`milter.listen`) or file position it concerns. */
export class ConfigError extends OnionMxError {
  readonly where: string;
  constructor(where: string, message: string) {
    super(ErrorCode.Config, `${where}: ${message}`);
    this.where = where;
    this.name = 'ConfigError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
