// Cluster test: bad client input is answered, not fatal.
//  - not JSON / unknown message / bad counter argument -> error frame, the
//    connection stays open and later valid messages work;
//  - unknown kind -> HTTP 404, no upgrade;
//  - a session key that is not valid UTF-8 -> HTTP 400; the node keeps serving;
//  - frame over --max-frame -> close 1009; the session keeps working.
//  - bytes that would crash a node (issue 14): %FF in a query or a header
//    (400), a binary frame that is not UTF-8 (close 1007), JSON nested
//    deeper than 64 levels on /mcp (initialize, tools/call: 400 -32700) and
//    on a WebSocket frame (error frame), 2^64-1 in a counter add (error
//    frame); after each the node and the session still work.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/bad_input.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resources, WsClient, httpGet, waitForMembership, wsUrl, seqProblem } from './cluster.mjs';

/** POST /mcp with a JSON-RPC body (a string sent as is). */
async function mcpPost(url, body, session) {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (session) headers['mcp-session-id'] = session;
  return fetch(`${url}/mcp`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

const initializeBody = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bad-input', version: '1' } } };

const MAX_FRAME = 65536;

const isError = (d) => d !== null && typeof d === 'object' && d.type === 'error';
const isSaid = (d) => d !== null && typeof d === 'object' && d.type === 'said';
const isHistory = (d) => d !== null && typeof d === 'object' && d.type === 'history';
const isValue = (d) => d !== null && typeof d === 'object' && Object.hasOwn(d, 'value') && !Object.hasOwn(d, 'type');

/** Send `bad`, expect the very next frame to be an error with a message. */
async function expectError(client, bad, what) {
  const before = client.frames.length;
  await client.send(bad);
  const f = await client.next(() => true, 10_000, `an error frame for ${what}`);
  assert.ok(isError(f.data), `${client.label}: ${what} (${JSON.stringify(bad)}) must get {"type":"error","message":...}, got ${JSON.stringify(f.data)}`);
  assert.equal(typeof f.data.message, 'string', `${client.label}: error.message must be a string, got ${JSON.stringify(f.data)}`);
  assert.ok(f.data.message.length > 0, `${client.label}: error.message must not be empty`);
  assert.equal(client.frames.length, before + 1);
  assert.ok(client.isOpen, `${client.label}: connection must stay open after ${what}; ${client.describe()}`);
  return f;
}

describe('skein cluster: bad input', { timeout: 170_000 }, () => {
  const res = new Resources();
  let cluster;

  before(async () => {
    cluster = await res.launch({ nodes: 3, dataDir: res.tempDir('skein-bad-'), extraArgs: ['--max-frame', String(MAX_FRAME)] });
    await waitForMembership(cluster);
  }, { timeout: 100_000 });

  after(async () => {
    await res.cleanup();
  }, { timeout: 40_000 });

  it('chat: non-JSON and unknown messages get an error frame, the connection stays usable', { timeout: 40_000 }, async () => {
    const n1 = cluster.node('n1');
    const c = await res.connect(wsUrl(n1.url, '/ws/chat/bad-room?user=alice'), { label: 'alice@n1' });
    const h = await c.next(() => true, 10_000, 'the history frame');
    assert.ok(isHistory(h.data), `first frame must be history, got ${JSON.stringify(h.data)}`);

    const cases = [
      ['this is not json {', 'a non-JSON frame'],
      ['{"type":"say","text":', 'truncated JSON'],
      [{ type: 'dance' }, 'an unknown message type'],
      ['[1,2,3]', 'a JSON array'],
      ['"say"', 'a JSON string'],
      [{ text: 'no type' }, 'a message without type'],
    ];
    let i = 0;
    for (const [bad, what] of cases) {
      await expectError(c, bad, what);
      // ... and a valid message right after still works.
      const text = `still here ${i++}`;
      await c.send({ type: 'say', text });
      const f = await c.next(() => true, 10_000, `said ${JSON.stringify(text)} after ${what}`);
      assert.ok(isSaid(f.data) && f.data.text === text && f.data.user === 'alice',
        `after ${what}, say must be answered with said; got ${JSON.stringify(f.data)}`);
    }
    assert.equal(seqProblem(c.frames), null, `${c.label}: ${seqProblem(c.frames)}`);

    // The errors were not stored as chat messages.
    const d = await res.connect(wsUrl(cluster.node('n2').url, '/ws/chat/bad-room?user=dave'), { label: 'dave@n2' });
    const h2 = await d.next(() => true, 10_000, 'the history frame');
    assert.ok(isHistory(h2.data), `first frame must be history, got ${JSON.stringify(h2.data)}`);
    assert.deepEqual(h2.data.messages.map((m) => ({ user: m.user, text: m.text })),
      Array.from({ length: cases.length }, (_, k) => ({ user: 'alice', text: `still here ${k}` })));
    await Promise.all([c.close(), d.close()]);
  });

  it('counter: bad arguments and unknown ops get an error frame and change nothing', { timeout: 40_000 }, async () => {
    const c = await res.connect(wsUrl(cluster.node('n2').url, '/ws/counter/bad-counter'), { label: 'counter@n2' });
    const v0 = await c.next(() => true, 10_000, 'the initial value');
    assert.ok(isValue(v0.data), `first frame must be {"value":V}, got ${JSON.stringify(v0.data)}`);
    assert.equal(v0.data.value, 0);

    await expectError(c, '{"op":"add","by":', 'non-JSON');
    await expectError(c, { op: 'add', by: 'x' }, 'a string argument');
    await expectError(c, { op: 'add' }, 'a missing argument');
    await expectError(c, { op: 'add', by: 1.5 }, 'a non-integer argument');
    await expectError(c, { op: 'add', by: null }, 'a null argument');
    await expectError(c, { op: 'mul', by: 2 }, 'an unknown op');
    await expectError(c, { type: 'say', text: 'hi' }, 'a chat message to a counter');

    await c.send({ op: 'add', by: 5 });
    const v = await c.next(() => true, 10_000, '{"value":5}');
    assert.ok(isValue(v.data), `add after errors must answer {"value":V}, got ${JSON.stringify(v.data)}`);
    assert.equal(v.data.value, 5, 'no bad message may have changed the counter');
    assert.equal(seqProblem(c.frames), null, `${c.label}: ${seqProblem(c.frames)}`);
    await c.close();
  });

  it('unknown kind: HTTP 404 before any upgrade', { timeout: 30_000 }, async () => {
    for (const n of [cluster.node('n1'), cluster.node('n3')]) {
      // With the ws client (it sends the upgrade headers).
      const url = wsUrl(n.url, '/ws/nope/x');
      let err = null;
      try {
        const c = await WsClient.connect(url, { label: `nope@${n.name}` });
        await c.close();
      } catch (e) {
        err = e;
      }
      assert.ok(err, `${url} must not upgrade`);
      assert.equal(err.statusCode, 404, `${url}: expected HTTP 404, got: ${err.message}`);

      // With a plain HTTP GET carrying the upgrade headers.
      const r = await httpGet(`${n.url}/ws/nope/x`, {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      assert.ok(!r.upgraded, `GET ${n.url}/ws/nope/x with upgrade headers was upgraded (status ${r.status})`);
      assert.equal(r.status, 404, `GET ${n.url}/ws/nope/x with upgrade headers`);
    }
  });

  it('messages of every size around the first read (256 bytes) and fragmented messages arrive whole, once, in order', { timeout: 30_000 }, async () => {
    // The node reads a message's first 256 bytes, then the rest in larger
    // pieces (websocket_session.cpp); a message in several WebSocket
    // fragments is one input.
    const n1 = cluster.node('n1');
    const c = await res.connect(wsUrl(n1.url, '/ws/chat/pieces-room?user=pat'), { label: 'pat@n1' });
    await c.next(() => true, 10_000, 'the history frame');
    const frameOf = (text, bytes) => {
      const body = JSON.stringify({ type: 'say', text });
      return body + ' '.repeat(bytes - Buffer.byteLength(body));
    };
    const texts = [];
    for (const bytes of [200, 255, 256, 257, 511, 512, 513, 3000]) {
      const text = `size-${bytes}-` + 'y'.repeat(Math.min(bytes, 4000) - 60);
      texts.push(text);
      await c.send(frameOf(text, bytes));
    }
    // One message of 1,800 bytes in three fragments (text, continuation, final).
    const whole = frameOf('fragmented-' + 'z'.repeat(1500), 1800);
    texts.push('fragmented-' + 'z'.repeat(1500));
    await new Promise((resolve, reject) => c.ws.send(whole.slice(0, 100), { fin: false }, (e) => (e ? reject(e) : resolve())));
    await new Promise((resolve, reject) => c.ws.send(whole.slice(100, 1000), { fin: false }, (e) => (e ? reject(e) : resolve())));
    await new Promise((resolve, reject) => c.ws.send(whole.slice(1000), { fin: true }, (e) => (e ? reject(e) : resolve())));
    await c.nextData((d) => isSaid(d) && d.text.startsWith('fragmented-'), 10_000, 'said for the fragmented message');
    const said = c.frames.filter((f) => isSaid(f.data)).map((f) => f.data.text);
    assert.deepEqual(said, texts, 'each message echoed whole, once, in order');
    assert.ok(!c.frames.some((f) => isError(f.data)), `no error frame: ${c.describe()}`);
    assert.equal(seqProblem(c.frames), null, `${c.label}: ${seqProblem(c.frames)}`);
    await c.close();
  });

  it('session keys that are not valid UTF-8: HTTP 400, and the node keeps serving', { timeout: 40_000 }, async () => {
    const n2 = cluster.node('n2');
    const upgrade = {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    };
    // %FF (not UTF-8 at all), %C0%AF (overlong '/'), %ED%A0%80 (a surrogate).
    for (const bad of ['a%FFb', '%C0%AF', '%ED%A0%80']) {
      const p = await httpGet(`${n2.url}/cluster/placement?key=counter/${bad}`);
      assert.equal(p.status, 400, `/cluster/placement?key=counter/${bad}: ${p.status} ${p.body}`);
      const w = await httpGet(`${n2.url}/ws/counter/${bad}`, { headers: upgrade });
      assert.ok(!w.upgraded, `/ws/counter/${bad} was upgraded`);
      assert.equal(w.status, 400, `/ws/counter/${bad}: ${w.status} ${w.body}`);
      const e = await httpGet(`${n2.url}/sse/counter/${bad}`);
      assert.equal(e.status, 400, `/sse/counter/${bad}: ${e.status} ${e.body}`);
    }
    // The session host is alive: /cluster answers and a session still activates.
    const status = await httpGet(`${n2.url}/cluster`);
    assert.equal(status.status, 200, `/cluster after bad keys: ${status.status} ${status.body}`);
    const c = await res.connect(wsUrl(n2.url, '/ws/counter/utf8-ok'), { label: 'utf8@n2' });
    const first = await c.next((f) => isValue(f.data), 10_000, 'the counter value');
    assert.equal(first.data.value, 0);
    await c.close();
  });

  it(`oversize frame (> --max-frame ${MAX_FRAME}) closes with 1009; the session keeps working`, { timeout: 40_000 }, async () => {
    const n1 = cluster.node('n1');
    const n2 = cluster.node('n2');
    const big = await res.connect(wsUrl(n1.url, '/ws/chat/big-room?user=mallory'), { label: 'mallory@n1' });
    const obs = await res.connect(wsUrl(n2.url, '/ws/chat/big-room?user=olive'), { label: 'olive@n2' });
    for (const c of [big, obs]) {
      const h = await c.next(() => true, 10_000, 'the history frame');
      assert.ok(isHistory(h.data), `${c.label}: first frame must be history, got ${JSON.stringify(h.data)}`);
    }

    // A frame just under the limit passes. The chat behaviour caps `text`
    // (4096 bytes), so the frame is a short `say` padded with JSON whitespace:
    // only the frame size is large.
    const padded = (text, bytes) => {
      const body = JSON.stringify({ type: 'say', text });
      return body + ' '.repeat(bytes - Buffer.byteLength(body));
    };
    const fine = padded('just under the limit', MAX_FRAME - 1000);
    assert.equal(Buffer.byteLength(fine), MAX_FRAME - 1000);
    await big.send(fine);
    for (const c of [big, obs]) {
      await c.nextData((d) => isSaid(d) && d.text === 'just under the limit', 10_000, `said for a ${MAX_FRAME - 1000}-byte frame`);
    }

    // A frame over the limit (70000 bytes) closes that connection with 1009.
    const huge = padded('oversize', 70_000);
    assert.ok(Buffer.byteLength(huge) > MAX_FRAME);
    big.send(huge).catch(() => { /* the server may close while we write */ });
    const closed = await big.waitClosed(10_000);
    assert.equal(closed.code, 1009, `oversize frame: expected close code 1009, got ${closed.code} (reason ${JSON.stringify(closed.reason)}); ${big.describe()}`);

    // The session still serves the other client and new connections.
    await obs.send({ type: 'say', text: 'still alive' });
    await obs.nextData((d) => isSaid(d) && d.text === 'still alive', 10_000, 'said "still alive"');
    assert.ok(!obs.frames.some((f) => isSaid(f.data) && f.data.text === 'oversize'), 'the oversize message must not be broadcast');

    const again = await res.connect(wsUrl(n1.url, '/ws/chat/big-room?user=mallory'), { label: 'mallory@n1 again' });
    const h = await again.next(() => true, 10_000, 'the history frame');
    assert.ok(isHistory(h.data), `first frame must be history, got ${JSON.stringify(h.data)}`);
    assert.deepEqual(h.data.messages.map((m) => ({ user: m.user, text: m.text })),
      [{ user: 'mallory', text: 'just under the limit' }, { user: 'olive', text: 'still alive' }]);
    await again.send({ type: 'say', text: 'back' });
    for (const c of [again, obs]) {
      await c.nextData((d) => isSaid(d) && d.text === 'back' && d.user === 'mallory', 10_000, 'said "back"');
    }
    for (const c of [obs, again]) assert.equal(seqProblem(c.frames), null, `${c.label}: ${seqProblem(c.frames)}`);
    await Promise.all([obs.close(), again.close()]);
  });

  it('%FF in a query, a path or a header: 400 before any session; the node keeps serving', { timeout: 30_000 }, async () => {
    const n1 = cluster.node('n1');
    for (const path of ['/sse/counter/x?foo=%FF', '/sse/counter/x?%FF=1', '/cluster/placement?key=counter/a%FFb', '/sse/counter/a%FFb']) {
      const r = await httpGet(`${n1.url}${path}`);
      assert.equal(r.status, 400, `GET ${path}: ${r.status} ${r.body}`);
      assert.match(JSON.parse(r.body).error, /UTF-8/, `GET ${path}`);
    }
    for (const path of ['/ws/chat/utf-room?user=%FF', '/ws/counter/a%FFb']) {
      let err = null;
      try {
        await (await WsClient.connect(wsUrl(n1.url, path), { label: path })).close();
      } catch (e) {
        err = e;
      }
      assert.ok(err, `${path} must not upgrade`);
      assert.equal(err.statusCode, 400, `${path}: ${err.message}`);
    }
    const h = await httpGet(`${n1.url}/sse/counter/x`, { headers: { 'x-probe': 'a\xffb' } });
    assert.equal(h.status, 400, `a header with byte 0xFF: ${h.status} ${h.body}`);
    assert.match(JSON.parse(h.body).error, /x-probe is not valid UTF-8/i);

    const health = await httpGet(`${n1.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).state, 'up');
    const c = await res.connect(wsUrl(n1.url, '/ws/chat/utf-room?user=%C3%A9lodie'), { label: 'elodie@n1' });
    await c.next((f) => isHistory(f.data), 10_000, 'the history frame');
    await c.send({ type: 'say', text: 'after %FF' });
    const f = await c.nextData((d) => isSaid(d) && d.text === 'after %FF', 10_000, 'said after the %FF probes');
    assert.equal(f.data.user, 'élodie');
    await c.close();
  });

  it('a binary frame that is not UTF-8 closes that stream with 1007; the session keeps serving', { timeout: 30_000 }, async () => {
    const bad = await res.connect(wsUrl(cluster.node('n1').url, '/ws/chat/bin-room?user=eve'), { label: 'eve@n1' });
    const obs = await res.connect(wsUrl(cluster.node('n2').url, '/ws/chat/bin-room?user=olga'), { label: 'olga@n2' });
    for (const c of [bad, obs]) await c.next((f) => isHistory(f.data), 10_000, 'the history frame');
    bad.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])).catch(() => {});
    const closed = await bad.waitClosed(10_000);
    assert.equal(closed.code, 1007, `expected 1007, got ${closed.code} ${closed.reason}`);
    await obs.send({ type: 'say', text: 'after binary' });
    await obs.nextData((d) => isSaid(d) && d.text === 'after binary', 10_000, 'said after the binary frame');
    const again = await res.connect(wsUrl(cluster.node('n1').url, '/ws/chat/bin-room?user=eve'), { label: 'eve@n1 again' });
    const h = await again.next((f) => isHistory(f.data), 10_000, 'the history frame');
    assert.deepEqual(h.data.messages.map((m) => m.text), ['after binary']);
    await Promise.all([obs.close(), again.close()]);
  });

  it('JSON nested 1,000,000 deep on MCP initialize and tools/call: 400 -32700; the node and the session keep working', { timeout: 40_000 }, async () => {
    const url = cluster.node('n3').url;
    const deep = '['.repeat(1_000_000);
    let r = await mcpPost(url, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":${deep}`);
    assert.equal(r.status, 400);
    let body = await r.json();
    assert.equal(body.error.code, -32700);
    assert.match(body.error.message, /nested deeper than 64/);

    r = await mcpPost(url, initializeBody);
    assert.equal(r.status, 200, 'initialize after the deep body');
    const session = r.headers.get('mcp-session-id');
    assert.match(session, /^[0-9a-f]{32}$/);
    await r.json();
    r = await mcpPost(url, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_simple_text","arguments":{"x":${deep}}}}`, session);
    assert.equal(r.status, 400);
    body = await r.json();
    assert.equal(body.error.code, -32700);
    assert.match(body.error.message, /nested deeper than 64/);

    r = await mcpPost(url, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'test_simple_text', arguments: {} } }, session);
    assert.equal(r.status, 200, 'tools/call on the same session after the deep body');
    assert.equal((await r.json()).result.content[0].text, 'This is a simple text response for testing.');
    assert.equal((await httpGet(`${url}/healthz`)).status, 200);
  });

  it('JSON nested deeper than 64 on a WebSocket frame: a connection-level error frame; the stream and the session keep working', { timeout: 30_000 }, async () => {
    const c = await res.connect(wsUrl(cluster.node('n2').url, '/ws/chat/deep-room?user=dan'), { label: 'dan@n2' });
    await c.next((f) => isHistory(f.data), 10_000, 'the history frame');
    // Balanced, so only the depth is wrong (the frame limit here is 64 KiB).
    await c.send('['.repeat(30_000) + ']'.repeat(30_000));
    const e = await c.next(() => true, 10_000, 'the error frame');
    assert.ok(isError(e.data), `expected an error frame, got ${JSON.stringify(e.data)}`);
    assert.equal(e.seq, 0, 'a connection-level frame (seq 0)');
    assert.match(e.data.message, /nested deeper than 64/);
    assert.ok(c.isOpen);
    await c.send({ type: 'say', text: 'after deep' });
    const f = await c.nextData((d) => isSaid(d) && d.text === 'after deep', 10_000, 'said after the deep frame');
    assert.ok(f.seq > 0);
    await c.close();
  });

  it('counter: 2^64-1 is out of range (error frame), the value is unchanged', { timeout: 30_000 }, async () => {
    const c = await res.connect(wsUrl(cluster.node('n3').url, '/ws/counter/u64'), { label: 'u64@n3' });
    const v0 = await c.next(() => true, 10_000, 'the initial value');
    assert.equal(v0.data.value, 0);
    const e = await expectError(c, '{"op":"add","by":18446744073709551615}', '2^64-1');
    assert.match(e.data.message, /out of range/);
    await expectError(c, '{"op":"add","by":9223372036854775808}', '2^63');
    await c.send({ op: 'add', by: 7 });
    const v = await c.next(() => true, 10_000, '{"value":7}');
    assert.equal(v.data.value, 7, 'the out-of-range adds changed nothing');
    assert.equal(seqProblem(c.frames), null, `${c.label}: ${seqProblem(c.frames)}`);
    await c.close();
  });
});
