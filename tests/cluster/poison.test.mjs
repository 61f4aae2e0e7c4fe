// Poison inputs (issue 14, item 8): an input whose handler kills the process
// (SIGSEGV) must not kill the next owner of its session.
//  - crashy/ID (skein-test-app) counts {"op":"inc"} and raises SIGSEGV on
//    {"op":"segv"}; the client sits on a node that does not own the session;
//  - the segv input (id 2) kills the owner once (the launcher restarts it);
//    the next activation finds it pending, tests it in a child process and
//    quarantines it: ack 2 carries a poison_input error, an error event
//    follows, skein_poison_inputs_total counts it;
//  - the same bytes sent again (id 3, and by another client without an id)
//    are refused without running: no second node crash;
//  - the session goes on: inc after it counts 2, and the counter before the
//    poison is intact;
//  (find_poison() itself, with handlers that crash, throw or hang, has unit
//  tests: tests/unit/test_poison.cpp.)
//
//   SKEIN_DEMO=build/bin/skein-demo SKEIN_TEST_APP=build/bin/skein-test-app \
//     node --test tests/cluster/poison.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Resources, waitFor, waitForMembership, wsUrl, placement, httpGet } from './cluster.mjs';
import { skeinTestAppPath } from './node.mjs';

/** A raw client that keeps every JSON frame (acks included). */
class RawClient {
  static open(url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const c = new RawClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }
  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.closed = null;
    ws.on('message', (b) => { this.frames.push(JSON.parse(b.toString('utf8'))); });
    ws.on('close', (code) => { this.closed = code; });
  }
  send(v) { this.ws.send(JSON.stringify(v)); }
  find(pred) { return this.frames.find(pred); }
  async waitFor(pred, what, timeoutMs = 30_000) {
    await waitFor(() => this.find(pred), { timeoutMs, what, describe: () => JSON.stringify(this.frames.slice(-8)) });
    return this.find(pred);
  }
  close() { this.ws.terminate(); }
}

async function poisonCount(cluster) {
  let total = 0;
  for (const n of cluster.nodes) {
    const r = await httpGet(`${n.url}/metrics`).catch(() => null);
    const line = r?.body.split('\n').find((l) => l.startsWith('skein_poison_inputs_total '));
    if (line) total += Number(line.split(' ')[1]);
  }
  return total;
}

const crashes = (cluster) => (cluster.stderrTail().match(/killed by signal/g) ?? []).length;

describe('poison inputs', { timeout: 150_000 }, () => {
  const res = new Resources();
  after(() => res.cleanup());

  it('a segfaulting input sent 3 times costs one node restart; the session goes on', async () => {
    const dataDir = res.tempDir('skein-poison-');
    const cluster = await res.launch({
      nodes: 3, dataDir, bin: skeinTestAppPath(),
      extraArgs: ['--restart-backoff', '100', '--max-restarts', '3',
        '--kind-option', 'crashy.durability=replicated'],
    });
    await waitForMembership(cluster);
    const key = 'crashy/p1';
    const owner = (await placement(cluster.nodes[0], key)).owner;
    const home = cluster.nodes.find((n) => n.name !== owner);
    const c = await RawClient.open(wsUrl(home.url, `/ws/${key}`));
    after(() => c.close());
    c.send({ id: 1, data: { op: 'inc' } });
    await c.waitFor((f) => f.ack === 1, 'ack 1');
    await c.waitFor((f) => f.data?.count === 1, 'count 1');

    c.send({ id: 2, data: { op: 'segv' } });
    const ack2 = await c.waitFor((f) => f.ack === 2, 'ack 2 (after the owner died and the next activation ran)', 60_000);
    assert.match(ack2.error ?? '', /^poison_input: /, `ack 2 must carry the poison_input error: ${JSON.stringify(ack2)}`);
    await c.waitFor((f) => f.data?.code === 'poison_input', 'the poison_input error event');
    assert.equal(crashes(cluster), 1, `exactly one node crash so far:\n${cluster.stderrTail()}`);

    // The same bytes again, with a new id: refused without running.
    c.send({ id: 3, data: { op: 'segv' } });
    const ack3 = await c.waitFor((f) => f.ack === 3, 'ack 3');
    assert.match(ack3.error ?? '', /identical to an input whose handler crashed/);
    // ...and a third time, from another client, without an id.
    const other = await RawClient.open(wsUrl(cluster.nodes.find((n) => n.name !== home.name).url, `/ws/${key}`));
    after(() => other.close());
    other.send({ op: 'segv' });
    await other.waitFor((f) => f.data?.code === 'poison_input', 'the other client\'s poison_input error event');

    c.send({ id: 4, data: { op: 'inc' } });
    await c.waitFor((f) => f.ack === 4 && !f.error, 'ack 4 without error');
    await c.waitFor((f) => f.data?.count === 2, 'count 2: the count before the poison survived, the poison was not applied');
    assert.equal(crashes(cluster), 1, `still exactly one node crash:\n${cluster.stderrTail()}`);
    assert.equal(c.closed, null, 'the client stream stayed open');
    await waitFor(async () => (await poisonCount(cluster)) >= 3, { what: 'skein_poison_inputs_total >= 3 over the nodes', timeoutMs: 10_000 });
    assert.match(cluster.stderrTail(), /session crashy\/p1: message input .*segv.* quarantined: its handler killed the process with signal 11/);

  });
});
