// Cluster test: skein's own WebSocket framing (net/ws_frame.hpp,
// net/websocket_session.cpp) against RFC 6455, over raw TCP where a library
// client would refuse to misbehave, and with the `ws` package otherwise:
//  - the handshake: 101 with the right Sec-WebSocket-Accept; a wrong
//    version 426 naming 13; a bad key 400; frames sent in the same write
//    as the upgrade request are applied;
//  - a message split into fragments with a ping between them: the pong
//    carries the ping's payload, the message is applied whole;
//  - protocol errors (unmasked frame, reserved bit, 1-byte close) close
//    with 1002 and the server ends TCP; the node keeps serving;
//  - the close handshake: the client's close is answered with its code,
//    then the server's FIN;
//  - keep-alive (--ws-idle-timeout 1000): a client that answers pings stays
//    open; one that does not is closed once the timeout passes.
// All of it with one io thread and with two.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/websocket.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import WebSocket from 'ws';
import { Resources, WsClient, skeinDemoPath, wsUrl } from './cluster.mjs';
import { startNode } from './node.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const IDLE_MS = 1000;

/** A client frame: FIN and opcode in `b0`, masked unless `masked` is false. */
function frame(b0, payload, { masked = true } = {}) {
  const body = Buffer.from(payload);
  const n = body.length;
  const head = n < 126 ? Buffer.from([b0, (masked ? 0x80 : 0) | n])
    : Buffer.from([b0, (masked ? 0x80 : 0) | 126, n >> 8, n & 0xff]);
  if (!masked) return Buffer.concat([head, body]);
  const mask = crypto.randomBytes(4);
  const out = Buffer.from(body);
  for (let i = 0; i < n; i++) out[i] ^= mask[i & 3];
  return Buffer.concat([head, mask, out]);
}

/**
 * A raw TCP client: sends an upgrade request, then parses the server's
 * frames (unmasked) as they come. `ended` resolves on the server's FIN.
 */
class RawWs {
  static async open(port, path, headers = {}, early = null) {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    const c = new RawWs(sock);
    const key = headers['Sec-WebSocket-Key'] ?? crypto.randomBytes(16).toString('base64');
    const h = { Host: `127.0.0.1:${port}`, Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13', ...headers };
    const request = Buffer.from(`GET ${path} HTTP/1.1\r\n${Object.entries(h).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
    // `early`: frames in the same write as the request, before the answer.
    sock.write(early ? Buffer.concat([request, early]) : request);
    c.key = key;
    await c.head;
    return c;
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.frames = [];  // {op, payload}
    this.waiters = [];
    this.head = new Promise((resolve) => { this._resolveHead = resolve; });
    this.ended = new Promise((resolve) => { sock.once('end', resolve); sock.once('close', resolve); });
    this.response = null;
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this._parse(); });
    sock.on('error', () => {});
  }

  _parse() {
    if (!this.response) {
      const at = this.buf.indexOf('\r\n\r\n');
      if (at < 0) return;
      const text = this.buf.subarray(0, at).toString('latin1');
      const [status, ...lines] = text.split('\r\n');
      const headers = {};
      for (const l of lines) { const i = l.indexOf(':'); headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim(); }
      this.response = { status: Number(status.split(' ')[1]), headers };
      this.buf = this.buf.subarray(at + 4);
      this._resolveHead(this.response);
      if (this.response.status !== 101) return;
    }
    while (this.buf.length >= 2) {
      const op = this.buf[0] & 0x0f;
      let n = this.buf[1] & 0x7f, at = 2;
      if (n === 126) { if (this.buf.length < 4) return; n = this.buf.readUInt16BE(2); at = 4; }
      else if (n === 127) { if (this.buf.length < 10) return; n = Number(this.buf.readBigUInt64BE(2)); at = 10; }
      assert.equal(this.buf[1] & 0x80, 0, 'a server frame must not be masked');
      if (this.buf.length < at + n) return;
      this.frames.push({ op, payload: this.buf.subarray(at, at + n) });
      this.buf = this.buf.subarray(at + n);
    }
    for (const w of [...this.waiters]) w();
  }

  /** The next frame (after `from`) matching `pred`. */
  next(pred, what, from = 0, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const f = this.frames.slice(from).find(pred);
        if (!f) return;
        cleanup();
        resolve(f);
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`no ${what} within ${timeoutMs} ms; frames ${JSON.stringify(this.frames.map((f) => [f.op, f.payload.toString('latin1').slice(0, 60)]))}`)); }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); this.waiters = this.waiters.filter((w) => w !== check); };
      this.waiters.push(check);
      check();
    });
  }

  json(pred, what, timeoutMs) {
    return this.next((f) => f.op === 1 && pred(JSON.parse(f.payload.toString('utf8'))), what, 0, timeoutMs)
      .then((f) => JSON.parse(f.payload.toString('utf8')));
  }

  closeFrame(timeoutMs) {
    return this.next((f) => f.op === 8, 'a close frame', 0, timeoutMs)
      .then((f) => ({ code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005, reason: f.payload.subarray(2).toString('utf8') }));
  }

  send(buf) { this.sock.write(buf); }
  destroy() { this.sock.destroy(); }
}

const closeBody = (code, reason = '') => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);

// Once with one io thread (streams on the io_context) and once with two
// (a strand per stream; the keep-alive's sweep runs beside the streams).
for (const ioThreads of [1, 2]) describe(`skein node: WebSocket protocol (RFC 6455), ${ioThreads} io thread(s)`, { timeout: 120_000 }, () => {
  const res = new Resources();
  let node;

  before(async () => {
    node = await startNode({ bin: skeinDemoPath(), dataDir: res.tempDir('skein-ws-'), extraArgs: ['--ws-idle-timeout', String(IDLE_MS), '--io-threads', String(ioThreads)] });
  }, { timeout: 60_000 });

  after(async () => {
    if (node && !node.exitInfo) await node.stop();
    await res.cleanup();
  }, { timeout: 40_000 });

  it('answers the handshake with the accept key; refuses a wrong version (426) and a bad key (400)', async () => {
    const c = await RawWs.open(node.port, '/ws/chat/hs?user=a');
    assert.equal(c.response.status, 101);
    assert.equal(c.response.headers['sec-websocket-accept'], crypto.createHash('sha1').update(c.key + GUID).digest('base64'));
    assert.equal(c.response.headers.upgrade.toLowerCase(), 'websocket');
    const welcome = await c.json((v) => v.seq === 0 && v.data?.type === 'welcome', 'the welcome frame');
    assert.equal(typeof welcome.data.client, 'string');
    c.destroy();

    const v12 = await RawWs.open(node.port, '/ws/chat/hs?user=a', { 'Sec-WebSocket-Version': '12' });
    assert.equal(v12.response.status, 426);
    assert.equal(v12.response.headers['sec-websocket-version'], '13');
    v12.destroy();
    const badKey = await RawWs.open(node.port, '/ws/chat/hs?user=a', { 'Sec-WebSocket-Key': 'short' });
    assert.equal(badKey.response.status, 400);
    badKey.destroy();
    assert.equal(node.exitInfo, null);
  });

  it('applies frames sent in the same write as the upgrade request', async () => {
    const early = Buffer.concat([
      frame(0x81, JSON.stringify({ type: 'say', text: 'early one' })),
      frame(0x81, JSON.stringify({ type: 'say', text: 'early two' })),
    ]);
    const c = await RawWs.open(node.port, '/ws/chat/early?user=e', {}, early);
    assert.equal(c.response.status, 101);
    const one = await c.json((v) => v.data?.type === 'said' && v.data.text === 'early one', 'the first early message');
    const two = await c.json((v) => v.data?.type === 'said' && v.data.text === 'early two', 'the second early message');
    assert.ok(two.seq > one.seq, 'applied in the order sent');
    c.destroy();
  });

  it('applies a fragmented message whole and answers a ping between its fragments', async () => {
    const c = await RawWs.open(node.port, '/ws/chat/frag?user=f');
    await c.json((v) => v.data?.type === 'history', 'the history frame');
    const msg = JSON.stringify({ type: 'say', text: 'fragmented \u00e9' });
    const bytes = Buffer.from(msg);
    const cut1 = 5, cut2 = bytes.indexOf(0xc3) + 1;  // the second cut splits the é
    c.send(Buffer.concat([
      frame(0x01, bytes.subarray(0, cut1)),
      frame(0x89, 'are you there'),
      frame(0x00, bytes.subarray(cut1, cut2)),
      frame(0x80, bytes.subarray(cut2)),
    ]));
    const pong = await c.next((f) => f.op === 0xa, 'a pong');
    assert.equal(pong.payload.toString(), 'are you there');
    const said = await c.json((v) => v.data?.type === 'said', 'the said frame');
    assert.equal(said.data.text, 'fragmented \u00e9');
    c.destroy();
  });

  for (const [what, bytes] of [
    ['an unmasked frame', () => frame(0x81, '{"type":"say","text":"x"}', { masked: false })],
    ['a reserved bit', () => frame(0xc1, '{}')],
    ['a close frame of 1 byte', () => frame(0x88, Buffer.from([3]))],
    ['a continuation with no message', () => frame(0x80, 'x')],
  ]) {
    it(`closes with 1002 on ${what}, ends TCP, keeps serving`, async () => {
      const c = await RawWs.open(node.port, '/ws/chat/proto?user=p');
      await c.json((v) => v.seq === 0 && v.data?.type === 'welcome', 'the welcome frame');
      c.send(bytes());
      const closed = await c.closeFrame();
      assert.equal(closed.code, 1002, `${what}: close code`);
      await c.ended;  // the server's FIN (or its close) follows
      c.destroy();
      const ok = await WsClient.connect(wsUrl(node.url, '/ws/chat/proto?user=q'));
      await ok.send({ type: 'say', text: 'still here' });
      await ok.nextData((d) => d?.type === 'said' && d.text === 'still here', 10_000, 'said');
      await ok.close();
    });
  }

  it('answers a client close with its code, then ends TCP', async () => {
    const c = await RawWs.open(node.port, '/ws/chat/bye?user=b');
    await c.json((v) => v.seq === 0 && v.data?.type === 'welcome', 'the welcome frame');
    c.send(frame(0x88, closeBody(4000, 'done')));
    const closed = await c.closeFrame();
    assert.equal(closed.code, 4000);
    await c.ended;
    c.destroy();
  });

  it(`keep-alive: a client that answers pings stays; one that does not is closed after ${IDLE_MS} ms`, async () => {
    const url = wsUrl(node.url, '/ws/chat/idle?user=k');
    const quiet = new WebSocket(url, { autoPong: false });
    const lively = new WebSocket(url);
    let quietPings = 0, livelyPings = 0;
    quiet.on('ping', () => { quietPings++; });
    const livelyThree = new Promise((resolve) => lively.on('ping', () => { if (++livelyPings === 3) resolve(); }));
    const quietClosed = new Promise((resolve) => quiet.on('close', (code) => resolve(code)));
    let livelyClosed = null;
    lively.on('close', (code) => { livelyClosed = code; });
    await Promise.all([new Promise((r) => quiet.once('open', r)), new Promise((r) => lively.once('open', r))]);
    const opened = Date.now();
    const code = await quietClosed;
    const after = Date.now() - opened;
    assert.ok(quietPings >= 1, 'the silent client got a ping before it was closed');
    assert.ok(after >= IDLE_MS - 50, `closed after ${after} ms, before the idle timeout`);
    assert.equal(code, 1006, 'closed without a close frame (a vanished peer would not answer one)');
    // Three pings are at least 1.5 timeouts of silence but for the pongs.
    await livelyThree;
    assert.equal(livelyClosed, null, 'the client answering pings is still open');
    assert.equal(lively.readyState, WebSocket.OPEN);
    lively.close();
  });
});
