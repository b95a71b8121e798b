// Milter wire constants. Readable names in code, the libmilter name (mfdef.h / mfapi.h) in a comment.
// Everything version-gated is marked [v6] (or the version that introduced it).

/** Commands the MTA sends (SMFIC_*). */
export const Cmd = {
  abort: 0x41, // 'A' SMFIC_ABORT
  body: 0x42, // 'B' SMFIC_BODY
  connect: 0x43, // 'C' SMFIC_CONNECT
  macro: 0x44, // 'D' SMFIC_MACRO
  endOfMessage: 0x45, // 'E' SMFIC_BODYEOB
  helo: 0x48, // 'H' SMFIC_HELO
  quitNewConnection: 0x4b, // 'K' SMFIC_QUIT_NC [v6]
  header: 0x4c, // 'L' SMFIC_HEADER
  mail: 0x4d, // 'M' SMFIC_MAIL
  endOfHeaders: 0x4e, // 'N' SMFIC_EOH
  optneg: 0x4f, // 'O' SMFIC_OPTNEG
  quit: 0x51, // 'Q' SMFIC_QUIT
  rcpt: 0x52, // 'R' SMFIC_RCPT
  data: 0x54, // 'T' SMFIC_DATA [v4]
  unknown: 0x55, // 'U' SMFIC_UNKNOWN [v3]
} as const;
export type CmdCode = (typeof Cmd)[keyof typeof Cmd];

/** Replies and actions the filter sends (SMFIR_*). `f`, `l` and `4` exist but are never sent. */
export const Reply = {
  addRecipient: 0x2b, // '+' SMFIR_ADDRCPT
  deleteRecipient: 0x2d, // '-' SMFIR_DELRCPT
  addRecipientWithArgs: 0x32, // '2' SMFIR_ADDRCPT_PAR [v6]
  shutdown: 0x34, // '4' SMFIR_SHUTDOWN (never sent: Sendmail treats it as bogus)
  accept: 0x61, // 'a' SMFIR_ACCEPT
  replaceBody: 0x62, // 'b' SMFIR_REPLBODY
  continue: 0x63, // 'c' SMFIR_CONTINUE
  discard: 0x64, // 'd' SMFIR_DISCARD
  changeFrom: 0x65, // 'e' SMFIR_CHGFROM [v6]
  connectionFailure: 0x66, // 'f' SMFIR_CONN_FAIL (never sent: no MTA handles it)
  addHeader: 0x68, // 'h' SMFIR_ADDHEADER
  insertHeader: 0x69, // 'i' SMFIR_INSHEADER
  setSymbolList: 0x6c, // 'l' SMFIR_SETSYMLIST (never a packet: lists ride in the OPTNEG reply)
  changeHeader: 0x6d, // 'm' SMFIR_CHGHEADER
  optneg: 0x4f, // 'O' SMFIC_OPTNEG (the negotiation reply)
  progress: 0x70, // 'p' SMFIR_PROGRESS
  quarantine: 0x71, // 'q' SMFIR_QUARANTINE
  reject: 0x72, // 'r' SMFIR_REJECT
  skip: 0x73, // 's' SMFIR_SKIP [v6]
  tempfail: 0x74, // 't' SMFIR_TEMPFAIL
  replyCode: 0x79, // 'y' SMFIR_REPLYCODE
} as const;
export type ReplyCode = (typeof Reply)[keyof typeof Reply];

/** Modification actions (SMFIF_*), negotiated in OPTNEG. */
export const Action = {
  addHeaders: 0x001, // SMFIF_ADDHDRS (ADDHEADER and INSHEADER)
  changeBody: 0x002, // SMFIF_CHGBODY
  addRecipient: 0x004, // SMFIF_ADDRCPT
  deleteRecipient: 0x008, // SMFIF_DELRCPT
  changeHeaders: 0x010, // SMFIF_CHGHDRS
  quarantine: 0x020, // SMFIF_QUARANTINE
  changeFrom: 0x040, // SMFIF_CHGFROM [v6]
  addRecipientWithArgs: 0x080, // SMFIF_ADDRCPT_PAR [v6]
  setSymbolList: 0x100, // SMFIF_SETSYMLIST [v6]
} as const;

export const V1_ACTIONS = 0x0f; // SMFI_V1_ACTS: what an MTA offering 0 means
export const V2_ACTIONS = 0x3f; // SMFI_V2_ACTS
export const ALL_ACTIONS = 0x1ff; // SMFI_CURR_ACTS

/** Protocol options (SMFIP_*): "don't send" (NO*) and "no reply" (NR_*) bits, negotiated in OPTNEG. */
export const Proto = {
  noConnect: 0x1, // SMFIP_NOCONNECT
  noHelo: 0x2, // SMFIP_NOHELO
  noMail: 0x4, // SMFIP_NOMAIL
  noRcpt: 0x8, // SMFIP_NORCPT
  noBody: 0x10, // SMFIP_NOBODY
  noHeaders: 0x20, // SMFIP_NOHDRS
  noEndOfHeaders: 0x40, // SMFIP_NOEOH
  noReplyHeader: 0x80, // SMFIP_NR_HDR (= SMFIP_NOHREPL)
  noUnknown: 0x100, // SMFIP_NOUNKNOWN [v3]
  noData: 0x200, // SMFIP_NODATA [v4]
  skip: 0x400, // SMFIP_SKIP [v6]
  rejectedRecipients: 0x800, // SMFIP_RCPT_REJ [v6]
  noReplyConnect: 0x1000, // SMFIP_NR_CONN [v6]
  noReplyHelo: 0x2000, // SMFIP_NR_HELO [v6]
  noReplyMail: 0x4000, // SMFIP_NR_MAIL [v6]
  noReplyRcpt: 0x8000, // SMFIP_NR_RCPT [v6]
  noReplyData: 0x10000, // SMFIP_NR_DATA [v6]
  noReplyUnknown: 0x20000, // SMFIP_NR_UNKN [v6]
  noReplyEndOfHeaders: 0x40000, // SMFIP_NR_EOH [v6]
  noReplyBody: 0x80000, // SMFIP_NR_BODY [v6]
  headerLeadingSpace: 0x100000, // SMFIP_HDR_LEADSPC [v6]
} as const;

export const V1_PROTOCOL = 0x3f; // SMFI_V1_PROT: what an MTA offering 0 means
export const V2_PROTOCOL = 0x7f; // SMFI_V2_PROT
export const ALL_PROTOCOL = 0x1fffff; // SMFI_CURR_PROT

/** Protocol bits each version defines (Postfix's milter8_event_masks); higher bits are removed. */
export const PROTOCOL_BITS_BY_VERSION: Readonly<Record<number, number>> = { 2: 0x7f, 3: 0x17f, 4: 0x37f, 6: 0x1fffff };
/** Action bits each version defines. */
export const ACTION_BITS_BY_VERSION: Readonly<Record<number, number>> = { 2: 0x3f, 3: 0x3f, 4: 0x3f, 6: 0x1ff };

/** Macro stage numbers used in symbol lists (SMFIM_*). EOM (5) < EOH (6): the order must not change. */
export const SymbolStage = {
  connect: 0, // SMFIM_CONNECT
  helo: 1, // SMFIM_HELO
  mail: 2, // SMFIM_ENVFROM
  rcpt: 3, // SMFIM_ENVRCPT
  data: 4, // SMFIM_DATA
  eom: 5, // SMFIM_EOM
  eoh: 6, // SMFIM_EOH
} as const;

/** CONNECT address families (SMFIA_*). */
export const Family = {
  unknown: 0x55, // 'U' SMFIA_UNKNOWN: no port, no address
  unix: 0x4c, // 'L' SMFIA_UNIX: port 0, address = socket path
  inet: 0x34, // '4' SMFIA_INET
  inet6: 0x36, // '6' SMFIA_INET6
} as const;

export const MAX_PROTOCOL_VERSION = 6; // SMFI_PROT_VERSION
export const MIN_PROTOCOL_VERSION = 2;
/** MILTER_CHUNK_SIZE: the largest body chunk MTAs send and the largest REPLBODY packet we write. */
export const CHUNK_SIZE = 65535;
/** Default cap for incoming packets: Postfix does not cap header events at 64 KiB. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** smfi_setmlreply limits (MAXREPLIES, MAXREPLYLEN). */
export const MAX_REPLY_LINES = 32;
export const MAX_REPLY_LINE_LENGTH = 980;
