// Passivation and the per-node session cap (issue 14, item 6):
//  - a counter with no client for its idle_ms (here 300 ms) is snapshotted
//    and stopped (skein_sessions drops, skein_passivations_total counts it);
//    the next client activates it again from its records, value intact;
//  - at --max-sessions 20, new activations passivate the sessions idle
//    longest: 60 sessions opened one after the other never hold more than
//    the cap (plus the batch being stopped), every value survives;
//  - with 20 sessions busy (a client each) a 21st is refused: close 1013,
//    and skein_sessions_refused_total counts it.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/passivation.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Resources, waitFor, waitForMembership, wsUrl, httpGet } from './cluster.mjs';
import { readCounter } from './procs.mjs';

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

describe('passivation and --max-sessions', { timeout: 150_000 }, () => {
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
});
