// @skein/client (clients/js) against real 3-node clusters (skein-demo launch):
//  - it connects through /gateway?session= to the session's owner, gets the
//    session's events; a send resolves on the server's ack, a rejected one
//    rejects with SendError;
//  - `ctl drain` of the node it is on: it reconnects to the new owner and
//    resumes (same client id, no reset, no gap); sends made across the
//    drain all resolve;
//  - kill -9 of the owner with sends in flight: every send resolves and the
//    counter applied each exactly once (re-sent with the same ids, deduped);
//  - the SSE transport; route 'least-loaded' follows GET /gateway.
//
//   (cd clients/js && npm ci && npm run build)
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/client/client.test.mjs
//
// Subtests that need message acks (docs/protocol.md, "Message ids and
// acks") are skipped, saying so, only when the server answers an
// {"id","data"} frame as a plain input (a server from before acks); a
// server that neither acks nor treats it so fails them.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SkeinClient, SendError } from '../../clients/js/dist/index.js';
import {
  Resources, httpGetJson, waitFor, waitForMembership, findIdOwnedBy, placement, wsUrl,
} from '../cluster/cluster.mjs';
import { ctl, nodePid, waitProcessGone } from '../cluster/procs.mjs';

const said = (d) => d && typeof d === 'object' && d.type === 'said';

/** Does the cluster acknowledge message ids? 'acks' | 'no-acks' (a server from before them). */
async function ackSupport(node) {
  const ws = new WebSocket(wsUrl(node.url, '/ws/chat/ack-probe?user=probe'));
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer to an {"id","data"} frame within 10 s (neither an ack nor an error)')), 10_000);
      ws.on('open', () => ws.send(JSON.stringify({ id: 1, data: { type: 'say', text: 'probe' } })));
      ws.on('message', (buf) => {
        const f = JSON.parse(buf.toString());
        if ('ack' in f) { clearTimeout(timer); resolve('acks'); }
        else if (f.data?.type === 'error') { clearTimeout(timer); resolve('no-acks'); }
      });
      ws.on('error', reject);
    });
  } finally {
    ws.terminate();
  }
}

/** A client that records what it gets; closed by `clients` cleanup. */
function recorder(client) {
  const rec = { messages: [], resets: [], welcomes: [], closes: [], errors: [] };
  client.on('message', (m) => rec.messages.push(m));
  client.on('reset', (r) => rec.resets.push(r));
  client.on('welcome', (w) => rec.welcomes.push(w));
  client.on('close', (c) => rec.closes.push(c));
  client.on('error', (e) => rec.errors.push(e.error.message));
  return rec;
}

function strictlyIncreasing(seqs) {
  return seqs.every((s, i) => i === 0 || s > seqs[i - 1]);
}

describe('@skein/client on a 3-node cluster', { timeout: 170_000 }, () => {
  const res = new Resources();
  const clients = [];
  const make = (opts) => { const c = new SkeinClient({ backoff: { initialMs: 50, maxMs: 1000 }, ...opts }); clients.push(c); return c; };
  let cluster;
  let dataDir;
  let acks;

  before(async () => {
    dataDir = res.tempDir('skein-client-');
    const t0 = Date.now();
    cluster = await res.launch({ nodes: 3, dataDir });
    const t1 = Date.now();
    await waitForMembership(cluster);
    const t2 = Date.now();
    acks = await ackSupport(cluster.node('n1'));
    if (process.env.SKEIN_CLIENT_LOG) console.log(`launch ${t1 - t0} ms, membership ${t2 - t1} ms, ack probe ${Date.now() - t2} ms`);
  });
  after(async () => {
    for (const c of clients) c.close();
    const t0 = Date.now();
    await res.cleanup();
    if (process.env.SKEIN_CLIENT_LOG) console.log(`cleanup took ${Date.now() - t0} ms`);
  });
  const needAcks = (t) => {
    if (acks === 'acks') return false;
    t.skip('the server answers {"id","data"} as a plain input: message acks are not on this branch yet');
    return true;
  };

  it('connects through /gateway to the owner; events arrive; sends resolve on ack, rejections reject', async (t) => {
    const { id } = await findIdOwnedBy(cluster, { prefix: 'cl-a-', owner: 'n2' });
    const c = make({ url: cluster.node('n1').url, kind: 'chat', id, params: { user: 'ann' } });
    const rec = recorder(c);
    await c.connect();
    assert.equal(c.state, 'open');
    assert.equal(rec.welcomes[0].node, 'n2', 'the owner n2, not the seed n1');
    assert.equal(rec.welcomes[0].url, cluster.node('n2').url);
    assert.equal(rec.welcomes[0].transport, 'ws');
    await waitFor(() => rec.messages.some((m) => m.data.type === 'history'), { timeoutMs: 15_000, what: 'the history event' });
    if (needAcks(t)) return;
    await c.send({ type: 'say', text: 'hello' });
    await waitFor(() => rec.messages.some((m) => said(m.data) && m.data.text === 'hello'), { timeoutMs: 15_000, what: 'the said event' });
    await assert.rejects(c.send({ type: 'say', text: 'x'.repeat(5000) }), (e) => e instanceof SendError && e.id === 2);
    await assert.rejects(c.send({ type: 'nope' }), SendError);
    await c.send({ type: 'say', text: 'still fine' });
    assert.deepEqual(c.unacknowledged, []);
    assert.deepEqual(rec.resets, []);
  });

  it("route 'least-loaded' connects where GET /gateway says", async () => {
    const c = make({ url: cluster.node('n3').url, kind: 'counter', id: 'cl-ll', route: 'least-loaded' });
    const rec = recorder(c);
    // Once every node agrees (loads travel with the heartbeat), connect.
    // Stable for 1.5 s (three heartbeats): no load change still travelling.
    let expected;
    let since = 0;
    await waitFor(async () => {
      const all = await Promise.all(cluster.nodes.map((n) => httpGetJson(`${n.url}/gateway`)));
      const same = all.every((a) => a.node === all[0].node);
      if (!same || all[0].node !== expected) { expected = same ? all[0].node : undefined; since = Date.now(); return false; }
      return Date.now() - since >= 1500;
    }, { timeoutMs: 15_000, what: 'every node to name the same least-loaded node for 1.5 s' });
    await c.connect();
    assert.equal(rec.welcomes[0].node, expected);
    assert.equal(rec.welcomes[0].url, cluster.node(expected).url);
    c.close();
  });

  it('SSE transport: welcome, events, acked sends', async (t) => {
    const { id } = await findIdOwnedBy(cluster, { prefix: 'cl-sse-', owner: 'n3' });
    const c = make({ url: cluster.node('n1').url, kind: 'chat', id, params: { user: 'sam' }, transports: ['sse'] });
    const rec = recorder(c);
    await c.connect();
    assert.equal(rec.welcomes[0].transport, 'sse');
    assert.equal(rec.welcomes[0].node, 'n3');
    await waitFor(() => rec.messages.some((m) => m.data.type === 'history'), { timeoutMs: 15_000, what: 'history over SSE' });
    if (needAcks(t)) return;
    await c.send({ type: 'say', text: 'over sse' });
    await waitFor(() => rec.messages.some((m) => said(m.data) && m.data.text === 'over sse'), { timeoutMs: 15_000, what: 'said over SSE' });
    await assert.rejects(c.send({ type: 'nope' }), SendError);
  });

  it('drain of the node it is on: reconnects to the new owner and resumes with no gap; sends across it resolve', async (t) => {
    const { id, key } = await findIdOwnedBy(cluster, { prefix: 'cl-drain-', owner: 'n2' });
    const c = make({ url: cluster.node('n1').url, kind: 'chat', id, params: { user: 'dee' } });
    const rec = recorder(c);
    await c.connect();
    assert.equal(c.node.node, 'n2');
    const client = c.clientId;
    // Another user on n1 talks before, during and after the drain.
    const other = await res.connect(wsUrl(cluster.node('n1').url, `/ws/chat/${id}?user=olga`));
    await other.send({ type: 'say', text: 'before' });
    await waitFor(() => rec.messages.some((m) => said(m.data) && m.data.text === 'before'), { timeoutMs: 15_000, what: '"before"' });
    const sends = acks === 'acks' ? Array.from({ length: 10 }, (_, i) => c.send({ type: 'say', text: `mine ${i}` })) : [];
    const pid = nodePid(dataDir, 'n2');
    const r = await ctl(cluster.node('n1').url, ['drain', 'n2'], { dataDir });
    assert.equal(r.code, 0, `ctl drain n2: ${r.stdout}${r.stderr}`);
    if (acks === 'acks') sends.push(...Array.from({ length: 10 }, (_, i) => c.send({ type: 'say', text: `mine ${10 + i}` })));
    await waitFor(() => rec.welcomes.length >= 2 && c.state === 'open', { timeoutMs: 30_000, what: 'a second welcome after the drain', describe: () => JSON.stringify({ state: c.state, closes: rec.closes, errors: rec.errors }) });
    const owner = (await placement(cluster.node('n1'), key)).owner;
    await waitFor(() => c.node.node === owner || rec.welcomes.length > 2, { timeoutMs: 10_000, what: `a connection to the new owner ${owner}` });
    assert.notEqual(c.node.node, 'n2');
    assert.equal(c.clientId, client, 'the same client id after the reconnect');
    assert.ok(rec.welcomes.slice(1).every((w) => w.resumed), JSON.stringify(rec.welcomes));
    await other.send({ type: 'say', text: 'after' });
    await waitFor(() => rec.messages.some((m) => said(m.data) && m.data.text === 'after'), { timeoutMs: 15_000, what: '"after"' });
    assert.deepEqual(rec.resets, [], 'no reset: the outbox covered the gap');
    assert.ok(strictlyIncreasing(rec.messages.map((m) => m.seq)), JSON.stringify(rec.messages.map((m) => m.seq)));
    if (pid) await waitProcessGone(pid, 30_000, 'the drained n2 to exit');
    if (needAcks(t)) return;
    await Promise.all(sends);
    await waitFor(() => rec.messages.filter((m) => said(m.data) && m.data.user === 'dee').length >= 20, { timeoutMs: 10_000, what: 'all 20 of my messages' });
    const mine = rec.messages.filter((m) => said(m.data) && m.data.user === 'dee').map((m) => m.data.text);
    assert.deepEqual(mine, Array.from({ length: 20 }, (_, i) => `mine ${i}`), 'each once, in order');
  });

  it('kill -9 of the owner with sends in flight: every send resolves, each applied exactly once', async (t) => {
    if (needAcks(t)) return;
    const dir2 = res.tempDir('skein-client-kill-');
    const c2 = await res.launch({ nodes: 3, dataDir: dir2 });
    await waitForMembership(c2);
    const { id } = await findIdOwnedBy(c2, { kind: 'counter', prefix: 'cl-kill-', owner: 'n2' });
    const c = make({ url: c2.node('n1').url, kind: 'counter', id });
    const rec = recorder(c);
    const t0 = Date.now();
    const log = [];
    for (const ev of ['state', 'welcome', 'close', 'error']) c.on(ev, (v) => log.push(`${Date.now() - t0} ${ev} ${JSON.stringify(v.error?.message ?? v)}`));
    t.after(() => { if (process.env.SKEIN_CLIENT_LOG) console.log(log.join('\n')); });
    await c.connect();
    assert.equal(c.node.node, 'n2');
    // A writer with at most 8 sends in flight, so some are in flight at the kill.
    const N = 200;
    let acked = 0;
    const sends = [];
    const inflight = new Set();
    const writer = (async () => {
      for (let i = 0; i < N; i++) {
        while (inflight.size >= 8) await Promise.race(inflight);
        const p = c.send({ op: 'add', by: 1 }).then(() => { acked += 1; inflight.delete(p); });
        inflight.add(p);
        sends.push(p);
      }
    })();
    await waitFor(() => acked >= 20, { timeoutMs: 10_000, intervalMs: 1, what: '20 acks before the kill' });
    const pid = nodePid(dir2, 'n2');
    assert.ok(pid, 'the pid of n2');
    process.kill(pid, 'SIGKILL');
    log.push(`${Date.now() - t0} killed n2 with ${acked}/${N} acknowledged`);
    let timer;
    await Promise.race([
      writer.then(() => Promise.all(sends)),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`only ${acked}/${N} sends resolved within 30 s of kill -9; ${JSON.stringify({ state: c.state, closes: rec.closes, errors: rec.errors })}`)), 30_000); }),
    ]).finally(() => clearTimeout(timer));
    log.push(`${Date.now() - t0} all ${N} acknowledged`);
    // A fresh reader sees every add exactly once.
    const reader = make({ url: c2.node('n1').url, kind: 'counter', id, route: 'direct', discover: false });
    const got = new Promise((resolve) => reader.on('message', (m) => resolve(m.data)));
    await reader.connect();
    assert.deepEqual(await got, { value: N });
    log.push(`${Date.now() - t0} read back`);
    const values = rec.messages.map((m) => m.data.value).filter((v) => typeof v === 'number');
    assert.ok(strictlyIncreasing(rec.messages.map((m) => m.seq)));
    assert.equal(Math.max(...values), N);
  });
});
