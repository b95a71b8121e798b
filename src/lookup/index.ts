// Lookup servers for MTAs that route per recipient: Postfix socketmap and tcp_table, Sendmail's
// socket map and Exim's ${readsocket}, all answering from the resolver the milter uses.
export { LookupAnswerer } from './answerer.ts';
export type { DecisionSource, LookupAnswererOptions, LookupOutcome, LookupSettings } from './answerer.ts';
export { createLookupServer } from './server.ts';
export type { LookupServer, LookupServerOptions } from './server.ts';
export type { LookupProtocol } from './protocols.ts';
export { postfixRoute, SENDMAIL_MAPS } from './replies.ts';
export { eximHostList } from './exim-codec.ts';
