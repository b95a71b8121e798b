// Public surface of the milter engine.
export * from './types.ts';
export { createMilterServer, type ListenAddress, type MilterServer, type MilterServerOptions } from './server.ts';
export { MilterSession, type SessionOptions, type SessionState } from './session.ts';
export type { HookFailurePolicy, MilterErrorKind } from './hook-call.ts';
export { negotiate, type Negotiated, type NegotiationOutcome, type Offer } from './negotiate.ts';
export { MacroStore, macroKey } from './macros.ts';
export { envelopeAddress } from './address.ts';
export { MilterClient, type ClientOptions, type EndOfMessageResult, type EventResult, type NegotiateOptions } from './client.ts';
export { Action, Cmd, Family, Proto, Reply, SymbolStage, CHUNK_SIZE, DEFAULT_MAX_FRAME_BYTES } from './wire/constants.ts';
export { FrameDecoder, type Frame } from './wire/frame-decoder.ts';
export { decodeCommand, commandName, type Command, type CommandKind } from './wire/commands.ts';
export * from './wire/replies.ts';
export { formatReplyCode } from './wire/reply-code.ts';
export { normalizeHeaderValue, assertHeaderName } from './wire/header-value.ts';
export * as mtaCommands from './wire/mta-commands.ts';
export { decodeFilterReply, isVerdict, type FilterReply, type Modification, type OptnegResult, type VerdictReply } from './wire/mta-replies.ts';
