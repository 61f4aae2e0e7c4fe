// Generated from clients/js/src by `npm run assets` (tsc); do not edit.
// The SSE transport (docs/mcp.md, /sse/{kind}/{id}): a GET event stream for
// server frames, one POST per message. Built on fetch (browsers, Node 18+),
// not EventSource: it can read the stream's close event and needs no
// polyfill in Node. Server frames arrive as `id: CLIENT.SEQ.TOKEN` + `data: D` events and
// are handed on as `{"seq":SEQ,"data":D}`; the POST's `{"ack":N}` answer is
// handed on as that frame. The stream's first event (`event: client`)
// becomes the welcome frame. Messages are POSTed one at a time, in order.
//
// Browsers: a page on another origin than the node needs CORS for /sse,
// which skein does not answer; use WebSocket there (the default).
/** Splits a text/event-stream into events; call push() per chunk, end() at the end. */
export class SseParser {
    onEvent;
    buf = '';
    data = [];
    event = '';
    id = null;
    constructor(onEvent) {
        this.onEvent = onEvent;
    }
    push(chunk) {
        this.buf += chunk;
        let nl;
        while ((nl = this.buf.search(/\r\n|\r|\n/)) >= 0) {
            if (nl === this.buf.length - 1 && this.buf[nl] === '\r')
                break; // maybe \r\n split over chunks
            const line = this.buf.slice(0, nl);
            this.buf = this.buf.slice(nl + (this.buf.startsWith('\r\n', nl) ? 2 : 1));
            this.line(line);
        }
    }
    line(line) {
        if (line === '') {
            if (this.data.length)
                this.onEvent(this.event || 'message', this.data.join('\n'), this.id);
            this.data = [];
            this.event = '';
            this.id = null;
            return;
        }
        if (line.startsWith(':'))
            return;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' '))
            value = value.slice(1);
        if (field === 'data')
            this.data.push(value);
        else if (field === 'event')
            this.event = value;
        else if (field === 'id')
            this.id = value;
    }
}
export function openSse(fetchFn, t, h) {
    const ctl = new AbortController();
    let closed = false;
    let client = t.query.get('client') ?? '';
    const finish = (code, reason) => {
        if (closed)
            return;
        closed = true;
        ctl.abort();
        h.onClose(code, reason);
    };
    const parser = new SseParser((event, data, id) => {
        if (closed)
            return;
        if (event === 'client') {
            let token = t.query.get('resume_token') ?? '';
            try {
                const v = JSON.parse(data);
                client = String(v.client ?? client);
                token = String(v.resume_token ?? token);
            }
            catch { /* keep ours */ }
            h.onText(JSON.stringify({ seq: 0, data: { type: 'welcome', client, node: t.node, resume_token: token } }));
        }
        else if (event === 'close') {
            let code = 1006;
            let reason = '';
            try {
                ({ code, reason } = JSON.parse(data));
            }
            catch { /* keep 1006 */ }
            finish(Number(code) || 1006, String(reason ?? ''));
        }
        else if (event === 'message' && id !== null) {
            // Event ids are CLIENT.SEQ.TOKEN (a bare SEQ from older servers).
            const seq = /^(?:[A-Za-z0-9_-]+\.)?(\d+)(?:\.[A-Za-z0-9_-]+)?$/.exec(id)?.[1];
            if (seq)
                h.onText(`{"seq":${seq},"data":${data}}`);
        }
    });
    (async () => {
        const res = await fetchFn(`${t.url}${t.path}?${t.query}`, { signal: ctl.signal, headers: { accept: 'text/event-stream' } });
        if (res.status !== 200 || !res.body) {
            const text = await res.text().catch(() => '');
            return finish(1006, `HTTP ${res.status} ${text.slice(0, 120)}`);
        }
        if (!t.node)
            t.node = res.headers.get('x-skein-node') ?? '';
        h.onOpen();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
            const { value, done } = await reader.read();
            if (done)
                break;
            parser.push(value);
        }
        finish(1006, 'event stream ended');
    })().catch((e) => finish(1006, e instanceof Error ? e.message : String(e)));
    // One POST at a time, in the order sent: concurrent POSTs could reach the
    // session out of id order, and an id below the highest applied one is
    // taken for a duplicate (acknowledged, not applied).
    const queue = [];
    let posting = false;
    const pump = () => {
        if (posting || closed || !queue.length)
            return;
        posting = true;
        const [id, text] = queue.shift();
        const q = new URLSearchParams({ client });
        fetchFn(`${t.url}${t.path}?${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text })
            .then(async (res) => {
            const body = await res.text();
            // 5xx (504: no ack in time; 503: session unavailable): reconnect, re-send.
            if (res.status >= 500)
                return finish(1011, `POST answered HTTP ${res.status}`);
            if (res.status === 200)
                h.onText(body); // {"ack":N[,"error":T]}
            else if (res.status >= 400)
                h.onText(JSON.stringify({ ack: id, error: `HTTP ${res.status}: ${body.slice(0, 200)}` }));
            posting = false;
            pump();
        })
            .catch((e) => finish(1006, `POST failed: ${e instanceof Error ? e.message : String(e)}`));
    };
    return {
        name: 'sse',
        send(id, text) {
            if (closed)
                return;
            queue.push([id, text]);
            pump();
        },
        close(code = 1000, reason = '') {
            finish(code, reason);
        },
    };
}
