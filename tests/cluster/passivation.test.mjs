// Passivation and the per-node session cap (issue 14, item 6):
//  - a counter with no client for its idle_ms (here 300 ms) is snapshotted
//    and stopped (skein_sessions drops, skein_passivations_total counts it);
//    the next client activates it again from its records, value intact;
//  - clients that come and go back to back keep it active (each leave
//    starts the countdown again), and it passivates idle_ms after the last;
//  - at --max-sessions 20, new activations passivate the sessions idle
//    longest: 60 sessions opened one after the other never hold more than
//    the cap (plus the batch being stopped), every value survives;
//  - with 20 sessions busy (a client each) a 21st is refused: close 1013,
//    and skein_sessions_refused_total counts it;
//  - a drain moves idle sessions by passivation (runtime/handoff.cpp): after
//    the drained node exited, none of its idle counters is active anywhere
//    until it is read, and then every value is there (durability local, so
//    the final snapshot's wait for the replicas is what keeps them); the one
//    counter with a client is handed off and the client goes on.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/passivation.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Resources, waitFor, waitForMembership, wsUrl, httpGet, httpGetJson } from './cluster.mjs';
import { ctl, nodePid, readCounter, readCounterUntil, waitProcessGone } from './procs.mjs';

async function metric(url, name) {
  const r = await httpGet(`${url}/metrics`);
  const line = r.body.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

/** Opens counter/ID, adds `by` with a message id, waits for the ack, closes. */
function addOnce(url, id, by) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(url, `/ws/counter/${id}`), { perMessageDeflate: false });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`counter/${id}: no ack in 10 s`)); }, 10_000);
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, data: { op: 'add', by } })));
    ws.on('message', (b) => {
      const f = JSON.parse(b.toString('utf8'));
      if (f.ack !== 1) return;
      clearTimeout(timer);
      ws.close();
      if (f.error) reject(new Error(`counter/${id}: ${f.error}`)); else resolve();
    });
    ws.on('close', (code, reason) => { clearTimeout(timer); if (code !== 1000 && code !== 1005) reject(new Error(`counter/${id}: closed ${code} ${reason}`)); });
    ws.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/** Opens counter/ID and keeps it open; resolves with {ws, closed} once the value arrived. */
function hold(url, id) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(url, `/ws/counter/${id}`), { perMessageDeflate: false });
    const out = { ws, closed: null };
    ws.on('message', (b) => {
      const f = JSON.parse(b.toString('utf8'));
      if (f.seq > 0) resolve(out);
    });
    ws.on('close', (code, reason) => { out.closed = { code, reason: reason.toString() }; resolve(out); });
    ws.on('error', reject);
  });
}

describe('passivation and --max-sessions', { timeout: 240_000 }, () => {
  const res = new Resources();
  after(() => res.cleanup());

  it('an idle session is passivated after idle_ms and comes back with its value', async () => {
    const cluster = await res.launch({ nodes: 1, dataDir: res.tempDir('skein-passivate-'),
      extraArgs: ['--kind-option', 'counter.idle_ms=300'] });
    await waitForMembership(cluster);
    const url = cluster.nodes[0].url;
    await addOnce(url, 'idle-1', 5);
    await addOnce(url, 'idle-2', 7);
    await waitFor(async () => (await metric(url, 'skein_sessions')) === 0,
      { timeoutMs: 10_000, what: 'both sessions passivated (skein_sessions 0)' });
    assert.ok((await metric(url, 'skein_passivations_total')) >= 2);
    assert.equal((await readCounter(url, 'idle-1')).value, 5);
    assert.equal((await readCounter(url, 'idle-2')).value, 7);
    await res.stop(cluster);
  });

  it('a session busy again before its idle check is not passivated by it, and passivates idle_ms after its last client', async () => {
    // One idle check is on its way at a time (actors/session.cpp): a check
    // that finds the session idle for less than idle_ms sends the next one
    // for the rest. Clients come and go back to back for 3 idle_ms; each
    // leave starts the countdown again, so no check may passivate it then
    // (the session is idle 400 ms between clients),
    // and once they stop it must passivate.
    const cluster = await res.launch({ nodes: 1, dataDir: res.tempDir('skein-passivate-'),
      extraArgs: ['--kind-option', 'counter.idle_ms=1500'] });
    await waitForMembership(cluster);
    const url = cluster.nodes[0].url;
    const before = await metric(url, 'skein_passivations_total');
    const until = Date.now() + 4500;
    let adds = 0;
    while (Date.now() < until) {
      await addOnce(url, 'busy-1', 1);
      adds += 1;
      // Idle for a while between clients (pacing, well under idle_ms): a
      // check sent for an earlier countdown lands in such a gap.
      await new Promise((r) => setTimeout(r, 400));
    }
    assert.equal(await metric(url, 'skein_passivations_total'), before,
      'no passivation while clients came back within idle_ms');
    assert.equal(await metric(url, 'skein_sessions'), 1);
    await waitFor(async () => (await metric(url, 'skein_sessions')) === 0,
      { timeoutMs: 15_000, what: 'the session passivated after its last client' });
    assert.equal(await metric(url, 'skein_passivations_total'), before + 1);
    assert.equal((await readCounter(url, 'busy-1')).value, adds);
    await res.stop(cluster);
  });

  it('at the cap the sessions idle longest are passivated; with none idle a new one gets 1013', async () => {
    const cap = 20;
    const cluster = await res.launch({ nodes: 1, dataDir: res.tempDir('skein-cap-'),
      extraArgs: ['--max-sessions', String(cap), '--kind-option', 'counter.idle_ms=0'] });
    await waitForMembership(cluster);
    const url = cluster.nodes[0].url;
    let peak = 0;
    for (let i = 0; i < 60; i++) {
      await addOnce(url, `cap-${i}`, i + 1);
      peak = Math.max(peak, await metric(url, 'skein_sessions'));
    }
    // The cap is checked per activation; a session asked to passivate stops
    // after its final snapshot commits, so one batch (1 % of the cap, at
    // least 1) may overlap.
    assert.ok(peak <= cap + 1, `sessions peaked at ${peak} with --max-sessions ${cap}`);
    assert.ok((await metric(url, 'skein_passivations_total')) >= 60 - cap - 1);
    for (const i of [0, 1, 30, 59]) assert.equal((await readCounter(url, `cap-${i}`)).value, i + 1, `cap-${i} after passivation`);

    // Every slot busy: a client holds each of `cap` sessions.
    await waitFor(async () => (await metric(url, 'skein_sessions')) <= cap, { timeoutMs: 10_000, what: 'back under the cap' });
    const held = [];
    for (let i = 0; i < cap; i++) {
      const h = await hold(url, `busy-${i}`);
      assert.equal(h.closed, null, `busy-${i} must be admitted: ${JSON.stringify(h.closed)}`);
      held.push(h);
    }
    const extra = await hold(url, 'one-too-many');
    assert.equal(extra.closed?.code, 1013, `the session over the cap: ${JSON.stringify(extra.closed)}`);
    assert.match(extra.closed.reason, /try again later/);
    assert.ok((await metric(url, 'skein_sessions_refused_total')) >= 1);
    for (const h of held) h.ws.terminate();
    await res.stop(cluster);
  });

  it('a drain passivates idle sessions (no copy shipped, the next owner recovers them on use) and hands off busy ones', async () => {
    const dataDir = res.tempDir('skein-drain-passivate-');
    const cluster = await res.launch({ nodes: 3, dataDir, extraArgs: ['--kind-option', 'counter.durability=local'] });
    await waitForMembership(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const ids = Array.from({ length: 150 }, (_, i) => `dp-${i}`);
    for (let i = 0; i < ids.length; i += 25)
      await Promise.all(ids.slice(i, i + 25).map((id, k) => addOnce(cluster.nodes[(i + k) % 3].url, id, (i + k) % 7 + 1)));
    const onN2 = (await httpGetJson(`${n2.url}/cluster`)).sessions.filter((k) => k.startsWith('counter/dp-'));
    assert.ok(onN2.length > 20, `n2 should hold about a third of 150 counters, holds ${onN2.length}`);
    // One of n2's counters keeps a client: it must be handed off, live.
    const busyKey = onN2[0];
    const busyId = busyKey.slice('counter/'.length);
    const busy = new WebSocket(wsUrl(n1.url, `/ws/${busyKey}`), { perMessageDeflate: false });
    const frames = [];
    busy.on('message', (b) => frames.push(JSON.parse(b.toString('utf8'))));
    await waitFor(() => frames.some((f) => f.seq > 0), { timeoutMs: 10_000, what: `the value of ${busyKey}` });

    const pid = nodePid(dataDir, 'n2');
    const r = await ctl(n1.url, ['drain', 'n2'], { dataDir });
    assert.equal(r.code, 0, `ctl drain n2: ${r.stdout}${r.stderr}`);
    await waitProcessGone(pid, 60_000, 'drained n2 to exit');
    const active = new Set();
    for (const n of [n1, n3]) for (const k of (await httpGetJson(`${n.url}/cluster`)).sessions) active.add(k);
    const idleMoved = onN2.filter((k) => k !== busyKey && active.has(k));
    assert.deepEqual(idleMoved, [], 'idle sessions of the drained node must leave by passivation (not active anywhere until used)');
    assert.ok(active.has(busyKey), `${busyKey} (with a client) must have been handed off to its new owner`);
    // The client goes on at the new owner.
    busy.send(JSON.stringify({ id: 1, data: { op: 'add', by: 100 } }));
    await waitFor(() => frames.some((f) => f.ack === 1), { timeoutMs: 15_000, what: `the ack of an add to ${busyKey} after the drain` });
    busy.close();
    // Every acknowledged value survives, read through the remaining nodes.
    const deadline = performance.now() + 30_000;
    for (let i = 0; i < ids.length; i++) {
      const want = (i % 7 + 1) + (ids[i] === busyId ? 100 : 0);
      const v = await readCounterUntil([n1.url, n3.url], ids[i], deadline);
      assert.equal(v.value, want, `counter/${ids[i]} after the drain`);
    }
    await res.stop(cluster);
  });
});
