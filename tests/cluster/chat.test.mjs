// Cluster test: chat across nodes, a counter hammered from every node, and
// state surviving a stop + relaunch on the same data directory.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/chat.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Resources, httpGet, httpGetJson, waitForMembership, placement, findIdOwnedBy, wsUrl, seqProblem,
} from './cluster.mjs';

const isSaid = (d) => d !== null && typeof d === 'object' && d.type === 'said';
const isHistory = (d) => d !== null && typeof d === 'object' && d.type === 'history';
const isValue = (d) => d !== null && typeof d === 'object' && Object.hasOwn(d, 'value') && !Object.hasOwn(d, 'type');
const pick = (m) => ({ user: m.user, text: m.text });

describe('skein cluster: chat, counter, restart', { timeout: 170_000 }, () => {
  const res = new Resources();
  let dataDir;
  let cluster;
  // Shared between the steps (filled in by earlier ones):
  let room;                 // {id, key, placement}
  let chatLog = null;       // [{user, text}] in the order every client saw them
  let lastChatSeq = null;
  const counterId = 'hits';
  let counterFinal = null;
  let lastCounterSeq = null;

  before(async () => {
    dataDir = res.tempDir('skein-chat-');
    cluster = await res.launch({ nodes: 3, dataDir });
  }, { timeout: 70_000 });

  after(async () => {
    await res.cleanup();
  }, { timeout: 40_000 });

  it('starts 3 healthy nodes that see each other', { timeout: 40_000 }, async () => {
    assert.deepEqual(cluster.nodes.map((n) => n.name), ['n1', 'n2', 'n3']);
    for (const n of cluster.nodes) {
      const h = await httpGet(`${n.url}/healthz`);
      assert.equal(h.status, 200, `GET ${n.url}/healthz status`);
      assert.doesNotThrow(() => JSON.parse(h.body), `GET ${n.url}/healthz body must be JSON, got ${JSON.stringify(h.body)}`);
    }
    await waitForMembership(cluster);
  });

  it('chat: alice on n1 and bob on n2 talk in a room owned by n3', { timeout: 60_000 }, async () => {
    room = await findIdOwnedBy(cluster, { kind: 'chat', prefix: 'room-', owner: 'n3' });
    // Placement is the same on every node, and the ranking is a permutation
    // of the members that starts with the owner.
    for (const n of cluster.nodes) {
      const p = await placement(n, room.key);
      assert.deepEqual(p, room.placement, `/cluster/placement?key=${room.key} on ${n.name} differs from ${cluster.nodes[0].name}`);
    }
    assert.equal(room.placement.key, room.key);
    assert.deepEqual([...room.placement.ranking].sort(), ['n1', 'n2', 'n3']);
    assert.equal(room.placement.ranking[0], 'n3');

    const n1 = cluster.node('n1');
    const n2 = cluster.node('n2');
    const n3 = cluster.node('n3');
    const alice = await res.connect(wsUrl(n1.url, `/ws/chat/${room.id}?user=alice`), { label: 'alice@n1' });
    const bob = await res.connect(wsUrl(n2.url, `/ws/chat/${room.id}?user=bob`), { label: 'bob@n2' });

    for (const c of [alice, bob]) {
      const h = await c.next(() => true, 10_000, 'the history frame');
      assert.ok(isHistory(h.data), `${c.label}: first frame must be {"type":"history",...}, got ${JSON.stringify(h.data)}`);
      assert.ok(Array.isArray(h.data.messages), `${c.label}: history.messages must be an array`);
      assert.deepEqual(h.data.messages, [], `${c.label}: fresh data dir => empty history`);
    }

    const sent = [];  // {user, text} in send order (per sender FIFO)
    const waitBoth = async (text) => {
      for (const c of [alice, bob]) {
        await c.nextData((d) => isSaid(d) && d.text === text, 10_000, `said ${JSON.stringify(text)}`);
      }
    };

    // Phase 1: 20 messages in lockstep, alternating senders.
    for (let i = 0; i < 20; i++) {
      const [c, user] = i % 2 === 0 ? [alice, 'alice'] : [bob, 'bob'];
      const text = `lockstep ${i} from ${user}`;
      sent.push({ user, text });
      await c.send({ type: 'say', text });
      await waitBoth(text);
    }

    // Phase 2: both send 20 at once without waiting.
    const burst = { alice: [], bob: [] };
    for (let i = 0; i < 20; i++) {
      burst.alice.push(`burst ${i} from alice`);
      burst.bob.push(`burst ${i} from bob`);
    }
    await Promise.all([
      Promise.all(burst.alice.map((text) => alice.send({ type: 'say', text }))),
      Promise.all(burst.bob.map((text) => bob.send({ type: 'say', text }))),
    ]);
    const lastA = burst.alice.at(-1);
    const lastB = burst.bob.at(-1);
    for (const c of [alice, bob]) {
      await c.nextData((d) => isSaid(d) && d.text === lastA, 15_000, `said ${JSON.stringify(lastA)}`);
    }
    for (const c of [alice, bob]) {
      c.cursor = 0; // rescan: the other sender's last message may have come first
      await c.nextData((d) => isSaid(d) && d.text === lastB, 15_000, `said ${JSON.stringify(lastB)}`);
    }

    // Every frame either client got: seq strictly increasing, no errors.
    for (const c of [alice, bob]) {
      assert.equal(seqProblem(c.frames), null, `${c.label}: ${seqProblem(c.frames)}`);
      const odd = c.frames.filter((f) => !isSaid(f.data) && !isHistory(f.data));
      assert.deepEqual(odd, [], `${c.label}: unexpected frames`);
    }
    const saidA = alice.frames.filter((f) => isSaid(f.data));
    const saidB = bob.frames.filter((f) => isSaid(f.data));
    assert.equal(saidA.length, 60, `alice must see exactly the 60 messages; ${alice.describe()}`);
    assert.equal(saidB.length, 60, `bob must see exactly the 60 messages; ${bob.describe()}`);
    // Both see the same events, in the same order, with the same seqs.
    assert.deepEqual(
      saidA.map((f) => ({ seq: f.seq, ...pick(f.data) })),
      saidB.map((f) => ({ seq: f.seq, ...pick(f.data) })),
      'alice and bob must observe the same messages with the same seqs in the same order',
    );
    // The lockstep phase is in send order; the burst keeps each sender's order.
    assert.deepEqual(saidA.slice(0, 20).map((f) => pick(f.data)), sent);
    for (const user of ['alice', 'bob']) {
      const got = saidA.slice(20).filter((f) => f.data.user === user).map((f) => f.data.text);
      assert.deepEqual(got, burst[user], `${user}'s burst must arrive complete and in send order`);
    }
    chatLog = saidA.map((f) => pick(f.data));
    lastChatSeq = saidA.at(-1).seq;

    // The session lives on n3 only.
    const views = Object.fromEntries(await Promise.all(
      [n1, n2, n3].map(async (n) => [n.name, await httpGetJson(`${n.url}/cluster`)]),
    ));
    for (const n of ['n1', 'n2', 'n3']) {
      assert.equal(views[n].node, n);
      assert.ok(Array.isArray(views[n].sessions), `/cluster of ${n}: sessions must be an array, got ${JSON.stringify(views[n])}`);
    }
    assert.ok(views.n3.sessions.includes(room.key), `/cluster of n3 must list ${room.key}; got ${JSON.stringify(views.n3.sessions)}`);
    assert.ok(!views.n1.sessions.includes(room.key), `/cluster of n1 must not list ${room.key}; got ${JSON.stringify(views.n1.sessions)}`);
    assert.ok(!views.n2.sessions.includes(room.key), `/cluster of n2 must not list ${room.key}; got ${JSON.stringify(views.n2.sessions)}`);

    await Promise.all([alice.close(), bob.close()]);
  });

  it('counter: concurrent adds from all 3 nodes sum up, every client sees monotonic values', { timeout: 60_000 }, async () => {
    const perClient = 40;
    const values = [1, 2, 3, 5, 8, 13, 100, 1000, 7, 42];
    const clients = [];
    for (const n of cluster.nodes) {
      clients.push(await res.connect(wsUrl(n.url, `/ws/counter/${counterId}`), { label: `counter@${n.name}` }));
    }
    for (const c of clients) {
      const f = await c.next(() => true, 10_000, 'the initial {"value":V} frame');
      assert.ok(isValue(f.data), `${c.label}: first frame must be {"value":V}, got ${JSON.stringify(f.data)}`);
      assert.equal(f.data.value, 0, `${c.label}: fresh data dir => value 0`);
    }

    let expected = 0;
    const plans = clients.map((_, ci) => Array.from({ length: perClient }, (_, i) => values[(i * 3 + ci) % values.length] * (ci + 1)));
    for (const p of plans) for (const k of p) expected += k;

    await Promise.all(clients.map((c, ci) => Promise.all(plans[ci].map((by) => c.send({ op: 'add', by })))));
    for (const c of clients) {
      await c.nextData((d) => isValue(d) && d.value === expected, 20_000, `{"value":${expected}}`);
    }

    const total = clients.length * perClient;
    let reference = null;
    for (const c of clients) {
      assert.equal(seqProblem(c.frames), null, `${c.label}: ${seqProblem(c.frames)}`);
      const odd = c.frames.filter((f) => !isValue(f.data));
      assert.deepEqual(odd, [], `${c.label}: unexpected frames`);
      const updates = c.frames.slice(1);
      assert.equal(updates.length, total, `${c.label}: one {"value"} frame per add (${total}); ${c.describe()}`);
      for (let i = 1; i < c.frames.length; i++) {
        assert.ok(c.frames[i].data.value > c.frames[i - 1].data.value,
          `${c.label}: values must increase (all adds are positive): ${c.frames[i - 1].data.value} then ${c.frames[i].data.value} at frame ${i}`);
      }
      assert.equal(c.frames.at(-1).data.value, expected, `${c.label}: last value`);
      // Every client sees the same (seq, value) sequence.
      const seqValues = updates.map((f) => [f.seq, f.data.value]);
      if (reference === null) reference = seqValues;
      else assert.deepEqual(seqValues, reference, `${c.label}: (seq, value) updates differ from ${clients[0].label}`);
    }
    // The increments are exactly the adds that were sent (as a multiset).
    const increments = [];
    for (let i = 1; i < clients[0].frames.length; i++) increments.push(clients[0].frames[i].data.value - clients[0].frames[i - 1].data.value);
    assert.deepEqual(increments.sort((a, b) => a - b), plans.flat().sort((a, b) => a - b), 'increments must be exactly the adds sent');

    counterFinal = expected;
    lastCounterSeq = clients[0].frames.at(-1).seq;
    await Promise.all(clients.map((c) => c.close()));
  });

  it('restart on the same data dir keeps chat history and counter value', { timeout: 100_000 }, async (t) => {
    if (chatLog === null || counterFinal === null) {
      t.skip('earlier steps failed');
      return;
    }
    await res.stop(cluster); // SIGTERM, exit code 0, no process left behind
    cluster = await res.launch({ nodes: 3, dataDir });
    assert.deepEqual(cluster.nodes.map((n) => n.name), ['n1', 'n2', 'n3']);
    await waitForMembership(cluster);

    const carol = await res.connect(wsUrl(cluster.node('n2').url, `/ws/chat/${room.id}?user=carol`), { label: 'carol@n2' });
    const h = await carol.next(() => true, 15_000, 'the history frame after restart');
    assert.ok(isHistory(h.data), `first frame must be history, got ${JSON.stringify(h.data)}`);
    assert.deepEqual(h.data.messages.map(pick), chatLog.slice(-50), 'history after restart must be the last 50 messages, in order');
    assert.ok(h.seq > lastChatSeq, `chat seq must continue after restart: history seq ${h.seq}, last seq before restart ${lastChatSeq}`);

    // The room still works after the restart.
    await carol.send({ type: 'say', text: 'after restart' });
    const said = await carol.nextData((d) => isSaid(d) && d.text === 'after restart', 10_000, 'own said after restart');
    assert.equal(said.data.user, 'carol');
    assert.ok(said.seq > h.seq);

    const counter = await res.connect(wsUrl(cluster.node('n1').url, `/ws/counter/${counterId}`), { label: 'counter@n1 after restart' });
    const v = await counter.next(() => true, 15_000, 'the counter value after restart');
    assert.ok(isValue(v.data), `first frame must be {"value":V}, got ${JSON.stringify(v.data)}`);
    assert.equal(v.data.value, counterFinal, 'counter value after restart');
    assert.ok(v.seq > lastCounterSeq, `counter seq must continue after restart: initial seq ${v.seq}, last seq before restart ${lastCounterSeq}`);
    await counter.send({ op: 'add', by: 1 });
    await counter.nextData((d) => isValue(d) && d.value === counterFinal + 1, 10_000, `{"value":${counterFinal + 1}}`);

    await res.stop(cluster);
  });
});
