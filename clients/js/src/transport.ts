// One connection to one node, as the client sees it: open, text frames in,
// messages out, one close. Two kinds: WebSocket (here) and SSE (sse.ts).

/** What a transport tells its owner. Each is called on the event loop, never re-entrantly from a method call. */
export interface TransportHandlers {
  /** Connected (the WebSocket opened; the SSE stream answered 200). */
  onOpen(): void;
  /** One server frame, JSON text (`{"seq",...}`, `{"ack",...}`). */
  onText(text: string): void;
  /** The connection ended (called once). `code` as WebSocket close codes; 1006 when it failed without one. */
  onClose(code: number, reason: string): void;
}

export type TransportName = 'ws' | 'sse';

export interface Transport {
  readonly name: TransportName;
  /** Sends one message `{"id":N,"data":X}` (its id and its text). */
  send(id: number, text: string): void;
  /** Closes; onClose follows (with this code unless the server closed first). */
  close(code?: number, reason?: string): void;
}

/** What the client needs of a WebSocket class: the browser's, Node 22's global, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
  send(text: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;

/**
 * The WebSocket class to use: globalThis.WebSocket (browsers, Node 22+),
 * else the optional peer dependency `ws` (Node 20), else null.
 */
export async function findWebSocket(): Promise<WebSocketCtor | null> {
  const g = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (typeof g === 'function') return g;
  try {
    const name = 'ws';  // a variable: bundlers for browsers leave it alone
    const mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ name);
    return (mod.WebSocket ?? mod.default) as WebSocketCtor;
  } catch {
    return null;
  }
}

/** "http://h:p" -> "ws://h:p", "https://" -> "wss://". */
export function wsBase(httpUrl: string): string {
  return httpUrl.replace(/^http(s?):\/\//, 'ws$1://').replace(/\/+$/, '');
}

/** A WebSocket to `url`. */
export function openWebSocket(Ctor: WebSocketCtor, url: string, h: TransportHandlers): Transport {
  const ws = new Ctor(url);
  let closed = false;
  const finish = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    ws.onopen = ws.onmessage = ws.onclose = null;
    // Closing a socket that is still connecting makes the `ws` package emit
    // 'error' afterwards: keep a listener, or Node takes it as unhandled.
    ws.onerror = () => {};
    h.onClose(code, reason);
  };
  ws.onopen = () => { if (!closed) h.onOpen(); };
  ws.onmessage = (ev) => {
    if (closed) return;
    if (typeof ev.data === 'string') h.onText(ev.data);
    else finish(1003, 'binary frame from the server');
  };
  ws.onclose = (ev) => finish(ev.code || 1006, ev.reason || '');
  ws.onerror = () => { /* a close event follows */ };
  return {
    name: 'ws',
    send(_id, text) {
      if (!closed && ws.readyState === 1) ws.send(text);
    },
    close(code = 1000, reason = '') {
      if (closed) return;
      try { ws.close(code, reason); } catch { /* not open yet in some implementations */ }
      finish(code, reason);
    },
  };
}
