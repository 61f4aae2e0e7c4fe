// Hibernation (kind option hibernate_ms, here 300 ms; actors/session_hibernate.cpp):
//  - a chat room whose two clients (on two nodes) are quiet hibernates
//    (skein_hibernations_total, skein_sessions_hibernated) with both
//    streams open; the next message of one client activates it again and
//    reaches the other too (its connection was woken), each frame once and
//    in seq order; the same after a second hibernation; a newcomer's
//    history holds every message;
//  - a presence room: a client that closes while the room hibernates gets
//    its leave broadcast (the close activates the session, which runs
//    on_close), and the others see no second join after the wake;
//  - kill -9 of the node that owns a hibernated room: its clients on the
//    other nodes (their connections dormant, kept by the dead node's
//    directory) are woken, and the next message of one reaches the other,
//    once and in seq order, from the room's next owner.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/hibernation.test.mjs
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resources, waitFor, waitForMembership, wsUrl, httpGet, seqProblem, findIdOwnedBy } from './cluster.mjs';
import { killLaunchedNode } from './procs.mjs';

const isSaid = (d) => d !== null && typeof d === 'object' && d.type === 'said';

async function metricSum(cluster, name) {
  let sum = 0;
  for (const n of cluster.nodes) {
    const r = await httpGet(`${n.url}/metrics`);
    const line = r.body.split('\n').find((l) => l.startsWith(`${name} `));
    sum += Number(line?.split(' ')[1] ?? NaN);
  }
  return sum;
}

/** Waits until the cluster counted `count` hibernations in all and keeps one hibernated. */
async function hibernated(cluster, count) {
  let last = '';
  await waitFor(async () => {
    const total = await metricSum(cluster, 'skein_hibernations_total');
    const now = await metricSum(cluster, 'skein_sessions_hibernated');
    last = `hibernations ${total}, hibernated now ${now}`;
    return total >= count && now >= 1;
  }, { timeoutMs: 20_000, what: `hibernation number ${count}`, describe: () => last });
}

describe('skein cluster: hibernation', { timeout: 170_000 }, () => {
  const res = new Resources();
  let cluster;
  let dataDir;

  before(async () => {
    dataDir = res.tempDir('skein-hibernate-');
    cluster = await res.launch({
      nodes: 3,
      dataDir,
      extraArgs: ['--kind-option', 'chat.hibernate_ms=300', '--kind-option', 'presence.hibernate_ms=300'],
    });
    await waitForMembership(cluster);
  }, { timeout: 100_000 });

  after(async () => {
    await res.cleanup();
  }, { timeout: 40_000 });

  it('a quiet chat room hibernates with its streams open; the next message wakes it and reaches every client once', async () => {
    const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((n) => cluster.node(n));
    const a = await res.connect(wsUrl(n1.url, '/ws/chat/hib-room?user=ann'), { label: 'ann@n1' });
    const b = await res.connect(wsUrl(n2.url, '/ws/chat/hib-room?user=bob'), { label: 'bob@n2' });
    for (const c of [a, b]) await c.next(() => true, 10_000, 'the history frame');
    const said = (c, text) => c.nextData((d) => isSaid(d) && d.text === text, 15_000, `said "${text}" at ${c.label}`);

    await a.send({ type: 'say', text: 'one' });
    for (const c of [a, b]) await said(c, 'one');
    await hibernated(cluster, 1);
    assert.ok(a.isOpen && b.isOpen, 'both streams stay open while the session hibernates');

    // bob's message activates the room; ann's connection was hibernated too.
    await b.send({ type: 'say', text: 'two' });
    for (const c of [a, b]) await said(c, 'two');
    await hibernated(cluster, 2);
    await a.send({ type: 'say', text: 'three' });
    for (const c of [a, b]) await said(c, 'three');

    for (const c of [a, b]) {
      const texts = c.frames.filter((f) => isSaid(f.data)).map((f) => f.data.text);
      assert.deepEqual(texts, ['one', 'two', 'three'], `${c.label}: every message once, in order`);
      assert.equal(seqProblem(c.frames), null, `${c.label}: ${seqProblem(c.frames)}`);
    }
    const c = await res.connect(wsUrl(n3.url, '/ws/chat/hib-room?user=cy'), { label: 'cy@n3' });
    const h = await c.next(() => true, 10_000, 'the history frame');
    assert.deepEqual(h.data.messages.map((m) => m.text), ['one', 'two', 'three']);
    await res.closeClients();
  });

  it('a presence client that closes while the room hibernates gets its leave; no second join after the wake', async () => {
    const [n1, n2] = ['n1', 'n2'].map((n) => cluster.node(n));
    const before = await metricSum(cluster, 'skein_hibernations_total');
    const p = await res.connect(wsUrl(n1.url, '/ws/presence/hib-p?user=pat'), { label: 'pat@n1' });
    await p.nextData((d) => d?.type === 'members', 10_000, 'members at pat');
    const q = await res.connect(wsUrl(n2.url, '/ws/presence/hib-p?user=quinn'), { label: 'quinn@n2' });
    await q.nextData((d) => d?.type === 'members' && d.users.includes('pat') && d.users.includes('quinn'), 10_000, 'members at quinn');
    await p.nextData((d) => d?.type === 'join' && d.user === 'quinn', 10_000, 'quinn joined, at pat');
    await hibernated(cluster, before + 1);
    const joinsBefore = q.frames.filter((f) => f.data?.type === 'join').length;

    await p.close();
    await q.nextData((d) => d?.type === 'leave' && d.user === 'pat', 15_000, 'pat left, at quinn');
    const joinsAfter = q.frames.filter((f) => f.data?.type === 'join').length;
    assert.equal(joinsAfter, joinsBefore, `no join after the wake: ${q.describe()}`);
    assert.equal(seqProblem(q.frames), null, `${q.label}: ${seqProblem(q.frames)}`);
    await res.closeClients();
  });

  it('kill -9 of a hibernated room\'s owner: its dormant clients on the other nodes still get the next message', async () => {
    const [n1, n2] = ['n1', 'n2'].map((n) => cluster.node(n));
    const { id } = await findIdOwnedBy(cluster, { prefix: 'hib-owned-', owner: 'n3' });
    const before = await metricSum(cluster, 'skein_hibernations_total');
    const a = await res.connect(wsUrl(n1.url, `/ws/chat/${id}?user=ann`), { label: 'ann@n1' });
    const b = await res.connect(wsUrl(n2.url, `/ws/chat/${id}?user=bob`), { label: 'bob@n2' });
    for (const c of [a, b]) await c.next(() => true, 10_000, 'the history frame');
    const said = (c, text) => c.nextData((d) => isSaid(d) && d.text === text, 30_000, `said "${text}" at ${c.label}`);
    await a.send({ type: 'say', text: 'one' });
    for (const c of [a, b]) await said(c, 'one');
    await hibernated(cluster, before + 1);

    await killLaunchedNode(dataDir, 'n3');
    // ann's connection is dormant on n1, bob's on n2: only bob sends.
    await b.send({ type: 'say', text: 'two' });
    for (const c of [a, b]) await said(c, 'two');
    assert.ok(a.isOpen && b.isOpen, 'both streams stay open');
    for (const c of [a, b]) {
      const texts = c.frames.filter((f) => isSaid(f.data)).map((f) => f.data.text);
      assert.deepEqual(texts, ['one', 'two'], `${c.label}: every message once, in order`);
      assert.equal(seqProblem(c.frames), null, `${c.label}: ${seqProblem(c.frames)}`);
    }
    await res.closeClients();
  });
});
