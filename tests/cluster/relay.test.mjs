// Cluster test: a broadcast crosses the cluster once per node. A room owned by
// n3 has its speaker on n3 and listeners on n1 and n2; each "said" frame must
// reach n1 and n2 in at most one relay message each (skein_relay_messages_total;
// fewer when the sending node's lane bundles several broadcasts into one),
// sent on there to every local listener (skein_relay_deliveries_total), and
// every listener must still see every frame, in seq order, exactly once.
// An input from a node other than the owner's gets its ack and the frames for
// that node back in one relay message. What crosses the cluster goes through
// the sending node's lane (skein_lane_bundles_total counts its messages).
// The owner's group committer wrote each input's batch before its frames left
// (the demo's durability), in no more RocksDB writes than batches
// (skein_store_writes_total, skein_store_write_batches_total).
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/relay.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resources, httpGet, waitForMembership, findIdOwnedBy, wsUrl, seqProblem } from './cluster.mjs';

const isSaid = (d) => d !== null && typeof d === 'object' && d.type === 'said';

/** The value of an unlabelled counter in a Prometheus text exposition. */
async function metric(node, name) {
  const text = (await httpGet(`${node.url}/metrics`)).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line !== undefined, `${node.name}: /metrics has no ${name}`);
  return Number(line.slice(name.length + 1));
}

async function relayCounters(node) {
  return {
    messages: await metric(node, 'skein_relay_messages_total'),
    deliveries: await metric(node, 'skein_relay_deliveries_total'),
    bundles: await metric(node, 'skein_lane_bundles_total'),
    bundled: await metric(node, 'skein_lane_bundled_messages_total'),
    writes: await metric(node, 'skein_store_writes_total'),
    batches: await metric(node, 'skein_store_write_batches_total'),
  };
}

/** n messages went as at least one and at most `most` cluster messages. */
function assertCoalesced(n, most, what) {
  assert.ok(n >= 1 && n <= most, `${what}: ${n} cluster messages, expected 1 to ${most}`);
}

describe('skein cluster: broadcasts relayed once per node', { timeout: 170_000 }, () => {
  const res = new Resources();
  let cluster;

  before(async () => {
    cluster = await res.launch({ nodes: 3, dataDir: res.tempDir('skein-relay-') });
    await waitForMembership(cluster);
  }, { timeout: 70_000 });

  after(async () => {
    await res.cleanup();
  }, { timeout: 40_000 });

  it('sends one message per node per broadcast and loses or repeats no frame', { timeout: 90_000 }, async () => {
    const room = await findIdOwnedBy(cluster, { kind: 'chat', prefix: 'relay-', owner: 'n3' });
    const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((n) => cluster.node(n));
    const speaker = await res.connect(wsUrl(n3.url, `/ws/chat/${room.id}?user=speaker`), { label: 'speaker@n3' });
    const listeners = [];
    for (const [node, count] of [[n1, 12], [n2, 8]])
      for (let i = 0; i < count; i++)
        listeners.push(await res.connect(wsUrl(node.url, `/ws/chat/${room.id}?user=l${i}`), { label: `l${i}@${node.name}` }));

    // Joined: the history frame is each one's first (a join still on its way
    // when "sync" is said would get it in its history instead).
    for (const c of [speaker, ...listeners]) await c.nextData((d) => d?.type === 'history', 15_000, 'the history frame');
    // Everything sent before this frame has reached every listener (one path
    // per connection, FIFO), so the counters read next include all of it.
    await speaker.send({ type: 'say', text: 'sync' });
    for (const c of [speaker, ...listeners]) await c.nextData((d) => isSaid(d) && d.text === 'sync', 15_000, 'the sync frame');

    const before = { n1: await relayCounters(n1), n2: await relayCounters(n2), n3: await relayCounters(n3) };
    const texts = Array.from({ length: 10 }, (_, i) => `m${i}`);
    for (const t of texts) await speaker.send({ type: 'say', text: t });
    for (const c of listeners)
      for (const t of texts) await c.nextData((d) => isSaid(d) && d.text === t, 15_000, `said ${t}`);
    const after = { n1: await relayCounters(n1), n2: await relayCounters(n2), n3: await relayCounters(n3) };

    const delta = (n, f) => after[n][f] - before[n][f];
    assertCoalesced(delta('n1', 'messages'), texts.length, 'n1: at most one relay message per broadcast');
    assert.equal(delta('n1', 'deliveries'), texts.length * 12, 'n1: each sent on to its 12 listeners');
    assertCoalesced(delta('n2', 'messages'), texts.length, 'n2: at most one relay message per broadcast');
    assert.equal(delta('n2', 'deliveries'), texts.length * 8, 'n2: each sent on to its 8 listeners');
    assert.equal(delta('n3', 'messages'), 0, 'n3 hosts the session: its listener gets frames directly');
    // n3's lane sent, per broadcast, the frames for n1 and for n2 (and the
    // session's batches for the room's replica), in at most as many bundles.
    assert.ok(delta('n3', 'bundled') >= 2 * texts.length, `n3: ${delta('n3', 'bundled')} messages through its lane`);
    assertCoalesced(delta('n3', 'bundles'), delta('n3', 'bundled'), "n3: its lane's bundles");
    // Every input's batch was committed on n3 before its frames were sent.
    assert.ok(delta('n3', 'batches') >= texts.length, `n3: ${delta('n3', 'batches')} batches written`);
    assertCoalesced(delta('n3', 'writes'), delta('n3', 'batches'), "n3: its committer's RocksDB writes");

    for (const c of listeners) {
      const said = c.frames.filter((f) => isSaid(f.data));
      assert.deepEqual(said.map((f) => f.data.text), ['sync', ...texts], `${c.label}: every frame once, in order`);
      assert.equal(seqProblem(c.frames), null, `${c.label}: seqs`);
      assert.deepEqual(c.violations, [], `${c.label}: protocol violations`);
    }
  });

  it('sends an input\'s ack and frames to the sender\'s node as one message', { timeout: 90_000 }, async () => {
    const room = await findIdOwnedBy(cluster, { kind: 'chat', prefix: 'relay-ack-', owner: 'n3' });
    const n1 = cluster.node('n1');
    const speaker = await res.connect(wsUrl(n1.url, `/ws/chat/${room.id}?user=speaker`), { label: 'speaker@n1' });
    const listeners = [];
    for (let i = 0; i < 3; i++)
      listeners.push(await res.connect(wsUrl(n1.url, `/ws/chat/${room.id}?user=l${i}`), { label: `l${i}@n1` }));
    for (const c of [speaker, ...listeners]) await c.nextData((d) => d?.type === 'history', 15_000, 'the history frame');
    await speaker.send({ type: 'say', text: 'sync' });
    for (const c of [speaker, ...listeners]) await c.nextData((d) => isSaid(d) && d.text === 'sync', 15_000, 'the sync frame');

    const before = await relayCounters(n1);
    const texts = Array.from({ length: 10 }, (_, i) => `a${i}`);
    for (const t of texts) await speaker.send({ type: 'say', text: t });
    for (const c of [speaker, ...listeners])
      for (const t of texts) await c.nextData((d) => isSaid(d) && d.text === t, 15_000, `said ${t}`);
    const after = await relayCounters(n1);
    // Per input: its ack and 4 frames (the speaker's echo and 3 listeners'),
    // in one relay message (without the batch: two, the ack and the frames).
    assertCoalesced(after.messages - before.messages, texts.length, 'n1: at most one relay message per input');
    assert.equal(after.deliveries - before.deliveries, texts.length * 5, 'n1: an ack and 4 frames per input');
    for (const c of [speaker, ...listeners]) {
      assert.equal(seqProblem(c.frames), null, `${c.label}: seqs`);
      assert.deepEqual(c.violations, [], `${c.label}: protocol violations`);
    }
  });
});
