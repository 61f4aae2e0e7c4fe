// Generated from clients/js/src by `npm run assets` (tsc); do not edit.
// One connection to one node, as the client sees it: open, text frames in,
// messages out, one close. Two kinds: WebSocket (here) and SSE (sse.ts).
/**
 * The WebSocket class to use: globalThis.WebSocket (browsers, Node 22+),
 * else the optional peer dependency `ws` (Node 20), else null.
 */
export async function findWebSocket() {
    const g = globalThis.WebSocket;
    if (typeof g === 'function')
        return g;
    try {
        const name = 'ws'; // a variable: bundlers for browsers leave it alone
        const mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ name);
        return (mod.WebSocket ?? mod.default);
    }
    catch {
        return null;
    }
}
/** "http://h:p" -> "ws://h:p", "https://" -> "wss://". */
export function wsBase(httpUrl) {
    return httpUrl.replace(/^http(s?):\/\//, 'ws$1://').replace(/\/+$/, '');
}
/** A WebSocket to `url`. */
export function openWebSocket(Ctor, url, h) {
    const ws = new Ctor(url);
    let closed = false;
    const finish = (code, reason) => {
        if (closed)
            return;
        closed = true;
        ws.onopen = ws.onmessage = ws.onclose = null;
        // Closing a socket that is still connecting makes the `ws` package emit
        // 'error' afterwards: keep a listener, or Node takes it as unhandled.
        ws.onerror = () => { };
        h.onClose(code, reason);
    };
    ws.onopen = () => { if (!closed)
        h.onOpen(); };
    ws.onmessage = (ev) => {
        if (closed)
            return;
        if (typeof ev.data === 'string')
            h.onText(ev.data);
        else
            finish(1003, 'binary frame from the server');
    };
    ws.onclose = (ev) => finish(ev.code || 1006, ev.reason || '');
    ws.onerror = () => { };
    return {
        name: 'ws',
        send(_id, text) {
            if (!closed && ws.readyState === 1)
                ws.send(text);
        },
        close(code = 1000, reason = '') {
            if (closed)
                return;
            try {
                ws.close(code, reason);
            }
            catch { /* not open yet in some implementations */ }
            finish(code, reason);
        },
    };
}
