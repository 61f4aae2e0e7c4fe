// @skein/client: a client of skein sessions for browsers and Node 20+
// (clients/js/README.md; the wire protocol: docs/protocol.md).
export { SkeinClient, SendError, ClientClosedError } from './client.js';
export type { ClientOptions, ClientState, ClientEvents } from './client.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { askGateway, pickNode, GatewayRefused } from './gateway.js';
export type { NodeAddress, FetchFn } from './gateway.js';
export { parseServerFrame, encodeMessage, MAX_ID } from './wire.js';
export type { ServerFrame, EventFrame, WelcomeFrame, AckFrame } from './wire.js';
export { SseParser } from './sse.js';
export type { TransportName, WebSocketCtor, WebSocketLike } from './transport.js';
