// Cluster test: bad client input is answered, not fatal.
//  - not JSON / unknown message / bad counter argument -> error frame, the
//    connection stays open and later valid messages work;
//  - unknown kind -> HTTP 404, no upgrade;
//  - a session key that is not valid UTF-8 -> HTTP 400; the node keeps serving;
//  - frame over --max-frame -> close 1009; the session keeps working.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/bad_input.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resources, WsClient, httpGet, waitForMembership, wsUrl, seqProblem } from './cluster.mjs';

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
});
