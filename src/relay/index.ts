// Public API of the relay: the LMTP/SMTP listeners the MTA hands onion mail to, which deliver it
// through the upstream half (src/relay/upstream) over Tor. Design: README.md in this directory.
export { createRelayServer, type RelayServer, type RelayServerOptions } from './inbound/server.ts';
export { relayListenProblem } from './inbound/listen-policy.ts';
export type { RelaySettings } from './inbound/session.ts';
export type { DeliveryReport, DeliveryOutcome, RecipientResult, RelayListenerKind } from './inbound/delivery.ts';
export { routeRecipient, routeFromDecision, type RecipientRoute } from './route.ts';
