// Generated from clients/js/src by `npm run assets` (tsc); do not edit.
// SkeinClient: one client of one skein session (kind/id), kept connected.
//
//  - where: asks GET /gateway?session=kind/id on a seed (then the other
//    known nodes) and connects to the node that holds the session; with
//    `route: 'least-loaded'`, GET /gateway's least-loaded node;
//  - how: WebSocket (globalThis.WebSocket, or the `ws` package on Node 20),
//    falling back to SSE after `sseAfterFailures` WebSocket attempts in a
//    row that never opened (or at once when there is no WebSocket class);
//  - reconnect: on any close it did not ask for, after a jittered
//    exponential backoff (backoff.ts), resuming with
//    ?client=C&resume_token=T&last_seq=N (C and T from the first welcome);
//  - sends: send(data) gives the message the next id, sends
//    `{"id":N,"data":data}` and returns a promise that resolves on the
//    server's `{"ack":N}` and rejects on `{"ack":N,"error":T}` (SendError).
//    A message not yet acknowledged is sent again, with the same id, after
//    every reconnect (the session acknowledges a duplicate without applying
//    it again). Sends made while disconnected wait for the next connection.
//
// Events (on(name, fn)): 'state' {state, previous}, 'welcome' {client, node,
// url, transport, resumed (asked with client and last_seq, and the server
// kept the client id)}, 'message' {seq, data}, 'reset' {seq},
// 'ack' {id, error?}, 'close' {code, reason, transport} per connection,
// 'error' {error} (a connection-level error frame, a frame that is not
// skein's, a refused gateway). Not thread-safe (there are no threads): use
// from one event loop.
import { backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { baseUrl, GatewayRefused, pickNode } from './gateway.js';
import { openSse } from './sse.js';
import { findWebSocket, openWebSocket, wsBase } from './transport.js';
import { encodeMessage, isReset, MAX_ID, parseServerFrame, validClientId } from './wire.js';
/** A message the session rejected: `{"ack":N,"error":T}`. */
export class SendError extends Error {
    id;
    reason;
    constructor(id, reason) {
        super(`message ${id} rejected: ${reason}`);
        this.id = id;
        this.reason = reason;
        this.name = 'SendError';
    }
}
/** The client was closed (close(), or a gateway refusal) with the message unacknowledged. */
export class ClientClosedError extends Error {
    id;
    constructor(id, why) {
        super(`message ${id} not acknowledged: ${why}`);
        this.id = id;
        this.name = 'ClientClosedError';
    }
}
export class SkeinClient extends Emitter {
    opts;
    seeds;
    fetchFn;
    _state = 'idle';
    _client;
    _resumeToken; // the client's credential for resuming (welcome's resume_token)
    _lastSeq;
    _nextId;
    _node = null;
    transport = null;
    generation = 0; // bumps per connection attempt; stale callbacks compare it
    welcomed = false; // the current connection's welcome arrived
    attempt = 0; // failed attempts since the last welcome
    seedIndex = 0;
    wsFailures = 0; // WebSocket attempts in a row that never opened
    useSse = false;
    lastFailedUrl = null;
    discovered = false;
    resuming = false; // the current connection asked to resume (client and last_seq)
    timer = null;
    pending = new Map(); // insertion order = id order
    constructor(opts) {
        super();
        this.opts = opts;
        this.seeds = (Array.isArray(opts.url) ? opts.url : [opts.url]).map(baseUrl);
        if (!this.seeds.length)
            throw new TypeError('SkeinClient: url needs at least one node URL');
        if (!opts.kind || opts.kind.includes('/') || !opts.id)
            throw new TypeError('SkeinClient: kind and id are required (kind without "/")');
        if (opts.client !== undefined && !validClientId(opts.client))
            throw new TypeError('SkeinClient: client must be [A-Za-z0-9_-]{1,64}');
        if ((opts.client === undefined) !== (opts.resumeToken === undefined))
            throw new TypeError('SkeinClient: client and resumeToken go together');
        const f = opts.fetch ?? globalThis.fetch;
        if (!f)
            throw new TypeError('SkeinClient: no fetch (Node 18+ and browsers have one; pass opts.fetch)');
        this.fetchFn = f.bind(globalThis);
        this._client = opts.client ?? null;
        this._resumeToken = opts.resumeToken ?? null;
        this._lastSeq = opts.lastSeq ?? null;
        this._nextId = opts.nextId ?? 1;
        // 'direct' starts at the first URL (the caller's preference); the
        // gateway routes start anywhere, to spread the /gateway requests.
        this.seedIndex = opts.route === 'direct' ? 0 : Math.floor((opts.random ?? Math.random)() * this.seeds.length);
    }
    get state() { return this._state; }
    /** The resume token of the client (from the welcome, or opts.resumeToken). */
    get resumeToken() { return this._resumeToken; }
    /** The client id (from the first welcome, or opts.client). */
    get clientId() { return this._client; }
    /** The highest event seq received. */
    get lastSeq() { return this._lastSeq; }
    /** The node of the current (or last) connection. */
    get node() { return this._node; }
    /** The transport in use (or to be used next). */
    get transportName() { return this.useSse ? 'sse' : 'ws'; }
    /** Ids sent and not yet acknowledged (or not sent yet). */
    get unacknowledged() { return [...this.pending.keys()]; }
    /** The session key, "kind/id". */
    get key() { return `${this.opts.kind}/${this.opts.id}`; }
    /** Starts connecting (idempotent); resolves at the first welcome, rejects if the client closes before. */
    connect() {
        if (this._state === 'closed')
            return Promise.reject(new Error('SkeinClient: closed'));
        const ready = this.welcomed ? Promise.resolve() : new Promise((resolve, reject) => {
            const offW = this.once('welcome', () => { offS(); resolve(); });
            const offS = this.on('state', ({ state }) => { if (state === 'closed') {
                offW();
                offS();
                reject(new Error('SkeinClient: closed before it connected'));
            } });
        });
        if (this._state === 'idle')
            void this.start();
        return ready;
    }
    /**
     * Sends `data` as message `{"id":N,"data":data}`; resolves when the server
     * acknowledges N (durable), rejects with SendError if it rejects N or
     * ClientClosedError if the client closes first.
     */
    send(data) {
        if (this._state === 'closed')
            return Promise.reject(new Error('SkeinClient: closed'));
        if (this._nextId > MAX_ID)
            return Promise.reject(new RangeError('SkeinClient: message ids exhausted'));
        const id = this._nextId++;
        const text = encodeMessage(id, data);
        return new Promise((resolve, reject) => {
            this.pending.set(id, { text, resolve, reject });
            if (this.welcomed && this.transport)
                this.transport.send(id, text);
        });
    }
    /** Closes for good: no reconnect; unacknowledged sends reject with ClientClosedError. */
    close(reason = 'client closed') {
        if (this._state === 'closed')
            return;
        this.shutdown(reason);
    }
    // ---- connection lifecycle ----
    setState(state) {
        if (state === this._state)
            return;
        const previous = this._state;
        this._state = state;
        this.emit('state', { state, previous });
    }
    async start() {
        const gen = ++this.generation;
        this.welcomed = false;
        this.setState(this.attempt === 0 && !this._node ? 'connecting' : 'reconnecting');
        let target;
        try {
            target = await this.pickTarget();
        }
        catch (e) {
            if (gen !== this.generation || this._state === 'closed')
                return;
            if (e instanceof GatewayRefused) {
                this.emit('error', { error: e });
                return this.shutdown(e.message);
            }
            return this.retry(gen);
        }
        if (gen !== this.generation || this._state === 'closed')
            return;
        this._node = target;
        await this.open(gen, target);
    }
    async pickTarget() {
        const route = this.opts.route ?? 'owner';
        const timeout = this.opts.gatewayTimeoutMs ?? 3000;
        const start = this.seedIndex % this.seeds.length;
        let t = route === 'direct'
            ? { node: '', url: this.seeds[start] }
            : await pickNode(this.fetchFn, this.seeds, start, route === 'owner' ? this.key : null, timeout);
        // The gateway may still name a node that just failed us (it is declared
        // down only after the failure timeout): any other node routes to the
        // session too.
        if (t.url === this.lastFailedUrl && this.seeds.length > 1) {
            for (let i = 0; i < this.seeds.length; i++) {
                const other = this.seeds[(start + i) % this.seeds.length];
                if (other !== t.url) {
                    t = { node: '', url: other };
                    break;
                }
            }
        }
        return t;
    }
    async open(gen, target) {
        const transports = this.opts.transports ?? ['ws', 'sse'];
        let Ctor = null;
        if (!this.useSse && transports.includes('ws'))
            Ctor = this.opts.WebSocket ?? await findWebSocket();
        if (gen !== this.generation || this._state === 'closed')
            return;
        if (!Ctor) {
            if (!transports.includes('sse')) {
                this.emit('error', { error: new Error('no WebSocket class (Node 20: npm install ws) and SSE is not allowed') });
                return this.shutdown('no transport');
            }
            this.useSse = true;
        }
        const query = new URLSearchParams(this.opts.params ?? {});
        // A resume: the client id, its resume token and the last seq seen.
        this.resuming = this._client !== null && this._resumeToken !== null;
        if (this.resuming) {
            query.set('client', this._client);
            query.set('resume_token', this._resumeToken);
            query.set('last_seq', String(this._lastSeq ?? 0));
        }
        const idPath = this.opts.id.split('/').map(encodeURIComponent).join('/');
        let opened = false;
        const handlers = {
            onOpen: () => { if (gen === this.generation)
                opened = true; },
            onText: (text) => this.onText(gen, text),
            onClose: (code, reason) => this.onClose(gen, opened, code, reason, t.name),
        };
        let t;
        try {
            t = this.useSse
                ? openSse(this.fetchFn, { url: target.url, path: `/sse/${encodeURIComponent(this.opts.kind)}/${idPath}`, query, node: target.node }, handlers)
                : openWebSocket(Ctor, `${wsBase(target.url)}/ws/${encodeURIComponent(this.opts.kind)}/${idPath}?${query}`, handlers);
        }
        catch (e) { // e.g. a URL the WebSocket class refuses
            this.emit('error', { error: e instanceof Error ? e : new Error(String(e)) });
            this.lastFailedUrl = target.url;
            return this.retry(gen);
        }
        this.transport = t;
        const openTimeout = this.opts.openTimeoutMs ?? 10_000;
        this.clearTimer();
        this.timer = setTimeout(() => {
            if (gen === this.generation && !this.welcomed)
                t.close(4000, `no welcome within ${openTimeout} ms`);
        }, openTimeout);
    }
    onText(gen, text) {
        const f = parseServerFrame(text);
        if (!f)
            return this.emit('error', { error: new Error(`not a skein frame: ${text.slice(0, 200)}`) });
        if (f.kind === 'ack')
            return this.onAck(f.id, f.error); // durable whichever connection says so
        if (gen !== this.generation || this._state === 'closed')
            return;
        if (f.kind === 'welcome')
            return this.onWelcome(f.client, f.node, f.resumeToken);
        if (f.kind === 'connection-error')
            return this.emit('error', { error: new Error(f.message) });
        if (this._lastSeq !== null && f.seq <= this._lastSeq)
            return; // seen (a resume overlap)
        this._lastSeq = f.seq;
        if (isReset(f.data))
            this.emit('reset', { seq: f.seq });
        else
            this.emit('message', { seq: f.seq, data: f.data });
    }
    onWelcome(client, node, resumeToken) {
        const resumed = this.resuming && this._client === client;
        this._client = client;
        // A server without resume tokens: resume by client id and seq alone is not possible.
        this._resumeToken = resumeToken || null;
        this.welcomed = true;
        this.attempt = 0;
        this.lastFailedUrl = null;
        if (this.transport?.name === 'ws')
            this.wsFailures = 0;
        this.clearTimer();
        if (this._node && node)
            this._node = { node, url: this._node.url };
        this.learn(this._node?.url);
        this.setState('open');
        this.emit('welcome', { client, node, url: this._node?.url ?? '', transport: this.transport.name, resumed });
        // Everything not acknowledged, in id order, with the same ids.
        for (const [id, p] of this.pending) {
            if (!this.welcomed || !this.transport)
                break;
            this.transport.send(id, p.text);
        }
        if (!this.discovered && (this.opts.discover ?? true) && this._node) {
            this.discovered = true;
            void this.discover(this._node.url);
        }
    }
    onAck(id, error) {
        const p = this.pending.get(id);
        if (!p)
            return; // a duplicate's ack
        this.pending.delete(id);
        this.emit('ack', error === undefined ? { id } : { id, error });
        if (error === undefined)
            p.resolve();
        else
            p.reject(new SendError(id, error));
    }
    onClose(gen, opened, code, reason, name) {
        if (gen !== this.generation)
            return;
        const wasWelcomed = this.welcomed;
        this.welcomed = false;
        this.transport = null;
        this.clearTimer();
        this.emit('close', { code, reason, transport: name });
        if (this._state === 'closed')
            return;
        // The next attempt avoids this node once (the gateway may name it
        // until it is declared down; any node reaches the session).
        this.lastFailedUrl = this._node?.url ?? null;
        if (!wasWelcomed) {
            if (name === 'ws' && !opened) {
                this.wsFailures += 1;
                const transports = this.opts.transports ?? ['ws', 'sse'];
                if (this.wsFailures >= (this.opts.sseAfterFailures ?? 2) && transports.includes('sse'))
                    this.useSse = true;
            }
        }
        this.retry(gen);
    }
    retry(gen) {
        if (gen !== this.generation || this._state === 'closed')
            return;
        const delay = backoffDelay(this.attempt, this.opts.backoff, this.opts.random);
        this.attempt += 1;
        this.seedIndex += 1;
        this.setState('reconnecting');
        this.clearTimer();
        this.timer = setTimeout(() => { this.timer = null; void this.start(); }, delay);
    }
    shutdown(why) {
        this.generation += 1;
        this.clearTimer();
        const t = this.transport;
        this.transport = null;
        this.welcomed = false;
        this.setState('closed');
        t?.close(1000, why.slice(0, 120));
        const pending = [...this.pending];
        this.pending.clear();
        for (const [id, p] of pending)
            p.reject(new ClientClosedError(id, why));
    }
    clearTimer() {
        if (this.timer !== null)
            clearTimeout(this.timer);
        this.timer = null;
    }
    /** Adds a node URL to the ones asked for /gateway. */
    learn(url) {
        if (url && !this.seeds.includes(baseUrl(url)))
            this.seeds.push(baseUrl(url));
    }
    /** The members' URLs from GET /cluster (best effort). */
    async discover(url) {
        try {
            const res = await this.fetchFn(`${url}/cluster`);
            if (res.status !== 200)
                return;
            const v = await res.json();
            for (const m of v.members ?? []) {
                if (typeof m.url === 'string' && /^https?:\/\//.test(m.url) && m.state !== 'down')
                    this.learn(m.url);
            }
        }
        catch { /* the gateway still works with the seeds */ }
    }
}
