// Generated from clients/js/src by `npm run assets` (tsc); do not edit.
// @skein/client: a client of skein sessions for browsers and Node 20+
// (clients/js/README.md; the wire protocol: docs/protocol.md).
export { SkeinClient, SendError, ClientClosedError } from './client.js';
export { backoffDelay } from './backoff.js';
export { askGateway, pickNode, GatewayRefused } from './gateway.js';
export { parseServerFrame, encodeMessage, MAX_ID } from './wire.js';
export { SseParser } from './sse.js';
