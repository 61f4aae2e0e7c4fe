// Unit tests of @skein/client without a server: a fake WebSocket class and
// a fake fetch stand in for the nodes (the real cluster: tests/client/).
//   npm test   (in clients/js: builds with tsc, then node --test test/)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SkeinClient, SendError, ClientClosedError, backoffDelay, parseServerFrame, SseParser, GatewayRefused } from '../dist/index.js';

/** A WebSocket the test drives: open(), frame(obj), serverClose(code). */
class FakeWs {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    FakeWs.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close(code = 1000, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
  open() { this.readyState = 1; this.onopen?.({}); }
  frame(v) { this.onmessage?.({ data: typeof v === 'string' ? v : JSON.stringify(v) }); }
  welcome(client = 'c1', node = 'n2') { this.frame({ seq: 0, data: { type: 'welcome', client, node, resume_token: `tok-${client}` } }); }
  serverClose(code, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
  fail() { this.readyState = 3; this.onerror?.({}); this.onclose?.({ code: 1006, reason: '' }); }
}

/** fetch answering GET /gateway with `answer(url)`; records the URLs. */
function fakeFetch(answer) {
  const calls = [];
  const fn = async (url, init = {}) => {
    calls.push({ url, init });
    const [status, body] = answer(url, init);
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  };
  fn.calls = calls;
  return fn;
}

const gatewayTo = (node, url) => fakeFetch((u) => (u.includes('/gateway') ? [200, { node, url }] : [404, { error: 'no' }]));

/** Resolves once `pred()` holds, checking after every macrotask; bounded. */
async function until(pred, what, ms = 2000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

const fast = { initialMs: 2, maxMs: 4 };
const lastWs = () => FakeWs.all[FakeWs.all.length - 1];

describe('backoff and wire', () => {
  it('backoff: equal jitter within [step/2, step], capped', () => {
    assert.equal(backoffDelay(0, {}, () => 0), 125);
    assert.equal(backoffDelay(0, {}, () => 0.999999), 250);
    assert.equal(backoffDelay(3, {}, () => 0), 1000);
    assert.equal(backoffDelay(30, {}, () => 0.999999), 10_000);
    assert.equal(backoffDelay(30, { maxMs: 1000 }, () => 0), 500);
  });
  it('parseServerFrame: events, welcome, acks, rejects junk', () => {
    assert.deepEqual(parseServerFrame('{"seq":3,"data":{"a":1}}'), { kind: 'event', seq: 3, data: { a: 1 } });
    assert.deepEqual(parseServerFrame('{"seq":0,"data":{"type":"welcome","client":"x","node":"n1","resume_token":"t"}}'), { kind: 'welcome', client: 'x', node: 'n1', resumeToken: 't' });
    assert.deepEqual(parseServerFrame('{"ack":7}'), { kind: 'ack', id: 7 });
    assert.deepEqual(parseServerFrame('{"ack":7,"error":"bad"}'), { kind: 'ack', id: 7, error: 'bad' });
    for (const bad of ['nope', '[]', '{"seq":-1,"data":1}', '{"seq":1}', '{"ack":0}', '{"ack":1.5}', '{"seq":9007199254740993,"data":1}']) {
      assert.equal(parseServerFrame(bad), null, bad);
    }
  });
  it('SseParser: fields, comments, CRLF, chunks split anywhere', () => {
    const got = [];
    const p = new SseParser((event, data, id) => got.push({ event, data, id }));
    const text = ': keepalive\r\nevent: client\r\ndata: {"client":"c"}\r\n\r\nid: 4\ndata: {"x":\ndata: 1}\n\n';
    for (const ch of text) p.push(ch);
    assert.deepEqual(got, [{ event: 'client', data: '{"client":"c"}', id: null }, { event: 'message', data: '{"x":\n1}', id: '4' }]);
  });
});

describe('SkeinClient (fake server)', () => {
  it('connects to the owner named by /gateway?session=, acks resolve sends, errors reject them', async (t) => {
    FakeWs.all = [];
    const fetch = gatewayTo('n2', 'http://n2:2');
    const c = new SkeinClient({ url: 'http://n1:1', kind: 'chat', id: 'a/b', params: { user: 'al' }, WebSocket: FakeWs, fetch, discover: false });
    t.after(() => c.close());
    const states = [];
    c.on('state', (s) => states.push(s.state));
    const ready = c.connect();
    await until(() => FakeWs.all.length === 1, 'a socket');
    assert.equal(fetch.calls[0].url, 'http://n1:1/gateway?session=chat%2Fa%2Fb');
    assert.equal(lastWs().url, 'ws://n2:2/ws/chat/a/b?user=al');
    const early = c.send({ type: 'say', text: 'queued before welcome' });
    lastWs().open();
    assert.equal(lastWs().sent.length, 0, 'nothing is sent before the welcome');
    lastWs().welcome('c1', 'n2');
    await ready;
    assert.equal(c.state, 'open');
    assert.deepEqual(lastWs().sent, [{ id: 1, data: { type: 'say', text: 'queued before welcome' } }]);
    const second = c.send('two');
    assert.deepEqual(lastWs().sent[1], { id: 2, data: 'two' });
    lastWs().frame({ ack: 1 });
    await early;
    lastWs().frame({ ack: 2, error: 'too long' });
    await assert.rejects(second, (e) => e instanceof SendError && e.id === 2 && e.reason === 'too long');
    assert.deepEqual(c.unacknowledged, []);
    assert.deepEqual(states, ['connecting', 'open']);
    c.close();
    assert.equal(c.state, 'closed');
  });

  it('reconnects with client and last_seq (avoiding the node just lost once), re-sends unacknowledged messages with their ids, drops seen seqs, reports reset', async (t) => {
    FakeWs.all = [];
    const c = new SkeinClient({ url: ['http://n1:1', 'http://n3:3'], kind: 'counter', id: 'x', WebSocket: FakeWs, fetch: gatewayTo('n2', 'http://n2:2'), backoff: fast, discover: false, random: () => 0 });
    t.after(() => c.close());
    const events = [];
    c.on('message', (m) => events.push(m.seq));
    const resets = [];
    c.on('reset', (r) => resets.push(r.seq));
    const welcomes = [];
    c.on('welcome', (w) => welcomes.push(w));
    const ready = c.connect();
    await until(() => FakeWs.all.length === 1, 'a socket');
    lastWs().open();
    lastWs().welcome('cli', 'n2');
    await ready;
    const p1 = c.send({ op: 'add', by: 1 });
    const p2 = c.send({ op: 'add', by: 2 });
    lastWs().frame({ ack: 1 });
    lastWs().frame({ seq: 5, data: { value: 1 } });
    await p1;
    lastWs().serverClose(1012, 'activation died');
    assert.equal(c.state, 'reconnecting');
    const p3 = c.send({ op: 'add', by: 3 });  // while disconnected: waits
    await until(() => FakeWs.all.length === 2, 'a second socket');
    // The gateway names n2 again; the first retry goes elsewhere (another seed).
    assert.equal(lastWs().url, 'ws://n3:3/ws/counter/x?client=cli&resume_token=tok-cli&last_seq=5');
    lastWs().open();
    lastWs().welcome('cli', 'n2');
    assert.deepEqual(lastWs().sent.map((m) => m.id), [2, 3], 'unacknowledged 2 and queued 3, in id order');
    lastWs().frame({ ack: 2 });
    lastWs().frame({ ack: 2 });  // a duplicate's ack: ignored
    lastWs().frame({ seq: 5, data: { value: 1 } });  // already seen
    lastWs().frame({ seq: 9, data: { type: 'reset' } });
    lastWs().frame({ seq: 10, data: { value: 6 } });
    lastWs().frame({ ack: 3 });
    await Promise.all([p2, p3]);
    assert.deepEqual(events, [5, 10]);
    assert.deepEqual(resets, [9]);
    assert.deepEqual(welcomes.map((w) => w.resumed), [false, true]);
    assert.equal(c.lastSeq, 10);
    c.close();
  });

  it('falls back to SSE after two WebSocket attempts that never open', async (t) => {
    FakeWs.all = [];
    const posts = [];
    const enc = new TextEncoder();
    let streamCtl;
    const fetch = fakeFetch((url, init) => {
      if (url.includes('/gateway')) return [200, { node: 'n1', url: 'http://n1:1' }];
      if (init.method === 'POST') { posts.push({ url, body: JSON.parse(init.body) }); return [200, { ack: JSON.parse(init.body).id }]; }
      return [404, 'x'];
    });
    let inFlight = 0;
    let maxInFlight = 0;
    const streamFetch = async (url, init = {}) => {
      if (init.method === 'POST') {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 3));
        inFlight -= 1;
      }
      if (url.includes('/sse/') && init.method !== 'POST') {
        fetch.calls.push({ url, init });
        const body = new ReadableStream({ start(ctl) { streamCtl = ctl; } });
        return new Response(body, { status: 200, headers: { 'x-skein-node': 'n1' } });
      }
      return fetch(url, init);
    };
    const c = new SkeinClient({ url: 'http://n1:1', kind: 'chat', id: 'r', WebSocket: FakeWs, fetch: streamFetch, backoff: fast, discover: false });
    t.after(() => c.close());
    const ready = c.connect();
    await until(() => FakeWs.all.length === 1, 'socket 1');
    lastWs().fail();
    await until(() => FakeWs.all.length === 2, 'socket 2');
    lastWs().fail();
    await until(() => streamCtl, 'the SSE stream');
    assert.match(fetch.calls.at(-1).url, /^http:\/\/n1:1\/sse\/chat\/r\?/);
    streamCtl.enqueue(enc.encode('retry: 1000\nevent: client\ndata: {"client":"s1","resume_token":"tk"}\n\n'));
    await ready;
    assert.equal(c.transportName, 'sse');
    await c.send({ type: 'say', text: 'hi' });
    assert.deepEqual(posts, [{ url: 'http://n1:1/sse/chat/r?client=s1', body: { id: 1, data: { type: 'say', text: 'hi' } } }]);
    await Promise.all([2, 3, 4].map((i) => c.send(i)));
    assert.deepEqual(posts.map((p) => p.body.id), [1, 2, 3, 4]);
    assert.equal(maxInFlight, 1, 'one POST at a time: the session sees ids in order');
    const got = new Promise((resolve) => c.once('message', resolve));
    streamCtl.enqueue(enc.encode('id: s1.3.tk\ndata: {"type":"said","text":"hi"}\n\n'));
    assert.deepEqual(await got, { seq: 3, data: { type: 'said', text: 'hi' } });
    c.close();
  });

  it('a gateway 404 (unknown kind) closes the client and rejects its sends', async () => {
    FakeWs.all = [];
    const fetch = fakeFetch(() => [404, { error: "unknown session kind 'nope'" }]);
    const c = new SkeinClient({ url: 'http://n1:1', kind: 'nope', id: 'x', WebSocket: FakeWs, fetch });
    const errors = [];
    c.on('error', (e) => errors.push(e.error));
    const pending = c.send(1);
    await assert.rejects(c.connect(), /closed/);
    await assert.rejects(pending, (e) => e instanceof ClientClosedError);
    assert.ok(errors[0] instanceof GatewayRefused);
    assert.equal(FakeWs.all.length, 0);
  });

  it('close() rejects unacknowledged sends and stops reconnecting', async () => {
    FakeWs.all = [];
    const c = new SkeinClient({ url: 'http://n1:1', kind: 'chat', id: 'r', WebSocket: FakeWs, fetch: gatewayTo('n1', 'http://n1:1'), backoff: fast, discover: false });
    const ready = c.connect();
    await until(() => FakeWs.all.length === 1, 'a socket');
    lastWs().open();
    lastWs().welcome();
    await ready;
    const p = c.send('x');
    c.close('bye');
    await assert.rejects(p, (e) => e instanceof ClientClosedError && e.id === 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(FakeWs.all.length, 1);
    await assert.rejects(c.send('y'), /closed/);
  });

  it('close() while the WebSocket is still connecting leaves no error unhandled', async () => {
    // A socket whose error event comes after close() (as the `ws` package does
    // when a handshake is aborted): without a listener Node would crash.
    class LateErrorWs extends FakeWs {
      close() { this.readyState = 3; setTimeout(() => { if (!this.onerror) throw new Error('error event with no listener'); this.onerror({}); this.errored = true; }, 0); }
    }
    FakeWs.all = [];
    const c = new SkeinClient({ url: 'http://n1:1', kind: 'chat', id: 'r', WebSocket: LateErrorWs, fetch: gatewayTo('n1', 'http://n1:1'), backoff: fast, discover: false });
    const ready = c.connect().catch(() => {});
    await until(() => FakeWs.all.length === 1, 'a socket');
    c.close('bye');
    await ready;
    await until(() => lastWs().errored, 'the late error event to be handled');
  });
});
