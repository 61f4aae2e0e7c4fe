// Cluster tests: live migration under load (join, drain), crash failover
// (kill -9), a frozen node (SIGSTOP past the failure timeout) being fenced,
// and WebSocket resume with ?client=ID&last_seq=N.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/migration.test.mjs
//
// Load: one writer connection per counter (home nodes round-robin), each
// pipelining at most `window` adds with message ids (`{"id":N,"data":
// {"op":"add","by":1}}`), paced globally. Each add is kept until its
// `{"ack":N}` and sent again (same id) after every reconnect, so at the end
// every add is acknowledged and every counter equals its writer's distinct
// adds exactly; a writer also checks its {"value"} frames go up by exactly 1
// (no loss, dup or reorder), across resumes.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import {
  Resources, httpGet, httpGetJson, waitFor, waitForMembership, placement, findIdOwnedBy, wsUrl, seqProblem,
} from './cluster.mjs';
import {
  nodePid, addNode, ctl, adminNotWired, CounterLoad, forkProblems, readCounterUntil, waitProcessGone,
  percentile, delay,
} from './procs.mjs';

const FAILURE_TIMEOUT_MS = 3_000;
const isSaid = (d) => d !== null && typeof d === 'object' && d.type === 'said';
const isHistory = (d) => d !== null && typeof d === 'object' && d.type === 'history';

function counterIds(prefix, n) {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

async function ownersOf(node, ids, kind = 'counter') {
  const out = new Map();
  await Promise.all(ids.map(async (id) => { out.set(id, (await placement(node, `${kind}/${id}`)).owner); }));
  return out;
}

// id -> "owner n3, replicas n1" (for failure messages)
async function placementsOf(node, ids, kind = 'counter') {
  const out = new Map();
  await Promise.all(ids.map(async (id) => {
    const p = await placement(node, `${kind}/${id}`);
    out.set(id, `owner ${p.owner}, replicas ${(p.replicas ?? []).join(',')}`);
  }));
  return out;
}

async function sessionsByNode(nodes) {
  const out = {};
  await Promise.all(nodes.map(async (n) => { out[n.name] = new Set((await httpGetJson(`${n.url}/cluster`)).sessions); }));
  return out;
}

function waitLoadAcked(load, n, timeoutMs, what) {
  return waitFor(() => load.acked >= n, { timeoutMs, intervalMs: 20, what: what ?? `${n} acknowledged adds (so far ${load.acked})` });
}

/**
 * After the load stopped: read every counter through a fresh client and
 * check it against what its writer sent and saw. Returns {problems, stats}.
 */
async function finalCheck(load, liveUrls, { label, where = new Map() }) {
  const problems = [];
  const at = (id) => (where.has(id) ? ` [initially ${where.get(id)}]` : '');
  const laggards = await load.quiesce(20_000);
  // Writers re-send unacknowledged adds (same ids) after every reconnect:
  // every add must end acknowledged, closed connection or not.
  for (const w of laggards) {
    problems.push(`${w.label}${at(w.id)}: ${w.inflight} adds unacknowledged 20 s after the load stopped (sent ${w.sent}, acked ${w.acked}, open ${w.open}, closes ${JSON.stringify(w.closes.map((c) => c.code))})`);
  }
  const deadline = performance.now() + 20_000;
  const finals = new Map();
  await Promise.all(load.writers.map(async (w) => {
    try {
      finals.set(w.id, await readCounterUntil(liveUrls, w.id, deadline));
    } catch (e) {
      problems.push(`${w.id}: could not read the final value: ${e.message}`);
    }
  }));
  // A resumed writer may still be receiving its replay: bounded wait for
  // it to have seen the final value.
  try {
    await waitFor(() => load.writers.every((w) => !finals.has(w.id) || w.lastValue === finals.get(w.id).value),
      { timeoutMs: 5_000, intervalMs: 50, what: 'writers to have seen their counter\'s final value' });
  } catch { /* reported below */ }
  let lostInTransit = 0;
  let resent = 0;
  let exact = 0;
  for (const w of load.writers) {
    const f = finals.get(w.id);
    if (!f) continue;
    const V = f.value - w.initialValue;
    if (V < w.acked) problems.push(`${w.id}${at(w.id)}: final ${f.value} - initial ${w.initialValue} < ${w.acked} acknowledged adds (acknowledged add lost)`);
    if (V > w.sent) problems.push(`${w.id}: final ${f.value} - initial ${w.initialValue} > ${w.sent} adds sent (add applied twice)`);
    if (V !== w.sent) problems.push(`${w.id}${at(w.id)}: final ${f.value} - initial ${w.initialValue} != ${w.sent} distinct adds sent (every add is re-sent until acknowledged: must be exact)`);
    if (w.lastValue !== f.value) problems.push(`${w.label}${at(w.id)}: writer's last seen value ${w.lastValue} != final ${f.value} (an applied add never acknowledged to its writer, even after resume)`);
    if (V === w.sent) exact++;
    lostInTransit += w.sent - V;
    resent += w.resent;
    for (const c of load.all.filter((x) => x.id === w.id)) {
      const maxSeen = Math.max(...c.seen.map((s) => s[1]));
      if (maxSeen > f.value) problems.push(`${c.label}: saw {"value":${maxSeen}} > final ${f.value}`);
    }
  }
  for (const c of load.all) {
    for (const v of c.violations.slice(0, 3)) problems.push(`${c.label}: ${v}`);
    if (c.violations.length > 3) problems.push(`${c.label}: ... ${c.violations.length - 3} more violations`);
  }
  problems.push(...forkProblems(load.all).slice(0, 20));
  const stats = {
    test: label,
    counters: load.writers.length,
    sent: load.sent,
    acked: load.acked,
    rate_per_s: Math.round(load.sent / ((load.stoppedAt - load.startedAt) / 1000)),
    exact_counters: exact,
    lost_in_transit: lostInTransit,
    resent_after_reconnect: resent,
    writers_reconnected: load.writers.filter((w) => w.everClosed).length,
    resets: load.all.reduce((s, c) => s + c.resets, 0),
    close_codes: Object.fromEntries(Object.entries(load.all.flatMap((c) => c.closes.map((x) => x.code))
      .reduce((m, c) => { m[c] = (m[c] ?? 0) + 1; return m; }, {}))),
  };
  return { problems, stats, finals };
}

// Up to 12 problems of each kind (the text before the first digit-free
// marker), so one noisy kind does not hide the others.
/** One unlabelled metric of a node's /metrics, as a number (asserts it is there). */
async function metricOf(node, name) {
  const line = (await httpGet(`${node.url}/metrics`)).body.split('\n')
    .find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${node.name}: /metrics has no ${name}`);
  return Number(line.split(' ')[1]);
}

/**
 * A drained node leaves the cluster before it exits: every survivor removed
 * it on its word (skein_members_left_total counts 1) and lists it as down.
 * A node that only exited is suspected and declared down by the survivors'
 * quorum, which counts it in the members it needs until then; that path
 * leaves the counter at 0.
 */
async function assertLeft(survivors, name) {
  for (const n of survivors) {
    const left = await metricOf(n, 'skein_members_left_total');
    assert.equal(left, 1,
      `${n.name}: the drained ${name} must have left the membership on its own word before it exited (skein_members_left_total ${left})`);
    const v = await httpGetJson(`${n.url}/cluster`);
    const e = (v.members || []).find((m) => m.name === name);
    assert.ok(!e || e.state === 'down', `${n.name} still lists the drained ${name} as ${e && e.state}`);
  }
}

function assertNoProblems(problems, what) {
  const kinds = new Map();
  for (const p of problems) {
    const k = p.replace(/^\S+ (\[[^\]]*\] )?/, '').replace(/[0-9]+/g, 'N').slice(0, 60);
    if (!kinds.has(k)) kinds.set(k, []);
    kinds.get(k).push(p);
  }
  const text = [...kinds.values()].map((ps) => ps.slice(0, 12).join('\n  ') + (ps.length > 12 ? `\n  ... and ${ps.length - 12} more like it` : '')).join('\n  ');
  assert.equal(problems.length, 0, `${what}: ${problems.length} problems:\n  ${text}`);
}

// ------------------------------------------------------------------------
describe('skein cluster: migration, failover, fencing, resume', { timeout: 290_000 }, () => {
  const res = new Resources();
  const added = [];
  after(async () => {
    for (const a of added) await a.stop().catch(() => {});
    await res.cleanup();
    if (process.env.SKEIN_TEST_VERBOSE) {
      setTimeout(() => console.error('active handles:', process._getActiveHandles().map((h) => h.constructor.name + (h.remoteAddress ? ` ${h.remoteAddress}:${h.remotePort}` : ''))), 3000).unref();
    }
  }, { timeout: 60_000 });

  let drainState = { wired: null, why: '' };

  it('migration under load: a 4th node joins (and n2 drains); every counter is exact', { timeout: 90_000 }, async (t) => {
    const dataDir = res.tempDir('skein-mig-');
    const cluster = await res.launch({ nodes: 3, dataDir });
    await waitForMembership(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const ids = counterIds('c', 200);
    const load = new CounterLoad({ ids, nodes: cluster.nodes, rate: 1500, window: 4 });
    try {
      await load.connectAll();
      load.start();
      await waitLoadAcked(load, 3_000, 15_000);

      // ---- join
      const before = await sessionsByNode(cluster.nodes);
      const n4 = await addNode(dataDir);
      added.push(n4);
      assert.equal(n4.name, 'n4');
      const owners = await ownersOf(n1, ids);
      const toN4 = ids.filter((id) => owners.get(id) === 'n4');
      assert.ok(toN4.length > 10, `HRW should give n4 about a quarter of 200 counters, got ${toN4.length}`);
      // Every node agrees on the new placement.
      for (const n of [n2, n3, n4]) {
        const o = await ownersOf(n, ids.slice(0, 20));
        for (const id of ids.slice(0, 20)) assert.equal(o.get(id), owners.get(id), `placement of counter/${id} on ${n.name} vs n1`);
      }
      const joinStart = n4.readyAt;
      let last = null;
      await waitFor(async () => {
        last = new Set((await httpGetJson(`${n4.url}/cluster`)).sessions);
        return toN4.every((id) => last.has(`counter/${id}`));
      }, { timeoutMs: 20_000, intervalMs: 25, what: `n4 to hold the ${toN4.length} counters it owns`, describe: () => `missing: ${toN4.filter((id) => !last?.has(`counter/${id}`)).slice(0, 10)}` });
      const rebalanceMs = performance.now() - joinStart;
      // Exactly the sessions whose owner changed moved; nothing else. An old
      // owner lists a session until its directory has seen the handed-off
      // activation stop, which may come a moment after n4 lists it: wait
      // (bounded) for the old owners to let go, then check every node.
      const movedAway = (by) => cluster.nodes.every((n) => [...before[n.name]].every(
        (key) => owners.get(key.replace(/^counter\//, '')) !== 'n4' || !by[n.name].has(key)));
      let after1 = null;
      await waitFor(async () => movedAway(after1 = await sessionsByNode([...cluster.nodes, n4])),
        { timeoutMs: 10_000, intervalMs: 25, what: 'the old owners to stop listing the sessions that moved to n4' });
      for (const key of after1.n4) {
        assert.equal(owners.get(key.replace(/^counter\//, '')), 'n4', `n4 holds ${key} which it does not own`);
      }
      for (const n of cluster.nodes) {
        for (const key of before[n.name]) {
          const id = key.replace(/^counter\//, '');
          if (owners.get(id) === 'n4') assert.ok(!after1[n.name].has(key), `${n.name} still holds ${key} after it moved to n4`);
          else assert.ok(after1[n.name].has(key), `${n.name} lost ${key} whose owner did not change (owner ${owners.get(id)})`);
        }
      }
      console.log(JSON.stringify({ metric: 'join_rebalance_ms', sessions_moved: toN4.length, ms: Math.round(rebalanceMs) }));

      // ---- drain n2 (if the admin routes are wired)
      const ackedAtJoin = load.acked;
      await waitLoadAcked(load, ackedAtJoin + 1_500, 15_000);
      const r = await ctl(n1.url, ['drain', 'n2'], { dataDir });
      if (adminNotWired(r)) {
        drainState = { wired: false, why: `ctl drain n2 -> exit ${r.code}: ${(r.stdout + r.stderr).trim()}` };
        t.diagnostic(`drain not exercised: ${drainState.why}`);
      } else {
        assert.equal(r.code, 0, `ctl --node ${n1.url} drain n2: exit ${r.code}\n${r.stdout}${r.stderr}`);
        drainState = { wired: true };
        const pid = nodePid(dataDir, 'n2');
        const drainAt = performance.now();
        if (pid) {
          await waitProcessGone(pid, 30_000, 'drained n2 to exit once it holds no sessions');
          await assertLeft([n1, n3, n4], 'n2');
        }
        load.deadUrls.add(n2.url);
        drainState.ms = Math.round(performance.now() - drainAt);
        // Its sessions are served by the others.
        const owners2 = await ownersOf(n1, ids);
        assert.ok(![...owners2.values()].includes('n2'), 'n2 must no longer own anything after the drain');
      }
      // Keep the load on for ~12 s in total.
      const left = 12_000 - (performance.now() - load.startedAt);
      if (left > 0) await delay(left);
      load.stopSending();
      const live = [n1, n3, n4, ...(drainState.wired ? [] : [n2])].map((n) => n.url);
      const { problems, stats } = await finalCheck(load, live, { label: 'migration' });
      console.log(JSON.stringify({ ...stats, drain: drainState }));
      assertNoProblems(problems, 'migration under load');
      assert.ok(stats.rate_per_s >= 1000, `load must reach >= 1000 adds/s, got ${stats.rate_per_s}`);
    } finally {
      load.closeAll();
    }
    await res.stop(cluster);
  });

  it('drain under load (ctl drain): the drained node exits 0 and its sessions move', async (t) => {
    if (drainState.wired === false) { t.skip(`admin routes not wired: ${drainState.why}`); return; }
    if (drainState.wired === null) { t.skip('the migration test did not reach the drain step'); return; }
    assert.ok(drainState.ms < 30_000);
  });

  // Two causes of loss found here, both fixed: an adopt refused before any
  // fence stopped the source activation (handoff_refused, stop 46), and the
  // drained n2 still counted as a member for a lease after it exited, so
  // one late heartbeat among the three survivors lapsed their leases and
  // stopped every none activation (79 of 120 counters reset, stop 47). A
  // drained node now leaves the membership before it exits (stop 48).
  it('durability none: a 4th node joins and n2 drains under load; every counter is exact and no add is written', { timeout: 120_000 }, async () => {
    // durability none keeps a session's state and its last events only in
    // its activation; a join or drain hands both over (the handoff copy), so
    // the same checker as above must find every counter exact and every
    // writer's values going up by 1 across its resumes: no reset.
    const none = ['--kind-option', 'counter.durability=none'];
    const dataDir = res.tempDir('skein-none-');
    const cluster = await res.launch({ nodes: 3, dataDir, extraArgs: none });
    await waitForMembership(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const ids = counterIds('z', 120);
    const load = new CounterLoad({ ids, nodes: cluster.nodes, rate: 1500, window: 4 });
    // Store write batches of the nodes, summed (skein_store_write_batches_total).
    const batches = async (nodes) => (await Promise.all(
      nodes.map((n) => metricOf(n, 'skein_store_write_batches_total')))).reduce((x, y) => x + y, 0);
    try {
      await load.connectAll();
      load.start();
      await waitLoadAcked(load, 1_500, 15_000);
      // Nothing per add: with durability local each add is at least one batch.
      const b0 = await batches(cluster.nodes);
      const a0 = load.acked;
      await waitLoadAcked(load, a0 + 1_500, 15_000);
      const b1 = await batches(cluster.nodes);
      const adds = load.acked - a0;
      assert.ok(b1 - b0 <= adds / 20, `${b1 - b0} store write batches for ${adds} acknowledged adds: durability none writes none per add`);
      const n4 = await addNode(dataDir, { extraArgs: none });
      added.push(n4);
      await waitLoadAcked(load, load.acked + 1_500, 20_000);
      const r = await ctl(n1.url, ['drain', 'n2'], { dataDir });
      assert.equal(r.code, 0, `ctl --node ${n1.url} drain n2: exit ${r.code}\n${r.stdout}${r.stderr}`);
      const pid = nodePid(dataDir, 'n2');
      if (pid) {
        await waitProcessGone(pid, 30_000, 'drained n2 to exit once it holds no sessions');
        await assertLeft([n1, n3, n4], 'n2');
      }
      load.deadUrls.add(n2.url);
      await waitLoadAcked(load, load.acked + 1_500, 20_000);
      load.stopSending();
      const { problems, stats } = await finalCheck(load, [n1, n3, n4].map((n) => n.url), { label: 'durability none: join and drain' });
      console.log(JSON.stringify({ ...stats, store_batches_per_add: Math.round((b1 - b0) / adds * 1000) / 1000 }));
      assertNoProblems(problems, 'durability none: join and drain under load');
      assert.equal(stats.resets, 0, 'a handed-over session serves every resume from the events it kept');
    } finally {
      load.closeAll();
    }
    await res.stop(cluster);
  });

  // A node whose quorum lease lapses for a moment (here: stopped for 2 s,
  // past its lease but short of the failure timeout, so nobody declares it
  // down and no other node takes its sessions) used to stop every
  // activation; a durability-none counter then started again at 0. Now its
  // none activations are kept and their outputs wait for the lease.
  it('durability none: a short lease lapse (SIGSTOP below the failure timeout) keeps every session; counters exact, no reset', { timeout: 90_000 }, async () => {
    const none = ['--kind-option', 'counter.durability=none'];
    const dataDir = res.tempDir('skein-lapse-');
    const cluster = await res.launch({ nodes: 3, dataDir, extraArgs: none });
    await waitForMembership(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const ids = counterIds('l', 60);
    const owners = await ownersOf(n1, ids);
    assert.ok(ids.filter((id) => owners.get(id) === 'n2').length >= 8, 'n2 should own about a third of 60 counters');
    const load = new CounterLoad({ ids, nodes: cluster.nodes, rate: 600, window: 4 });
    const inc0 = (await httpGetJson(`${n1.url}/cluster`)).members.find((m) => m.name === 'n2').incarnation;
    try {
      await load.connectAll();
      load.start();
      await waitLoadAcked(load, 600, 15_000);
      const lost0 = await metricOf(n2, 'skein_quorum_leases_lost_total');
      const pid = nodePid(dataDir, 'n2');
      assert.ok(pid, 'pid of n2');
      process.kill(pid, 'SIGSTOP');
      try {
        await delay(2_000);  // the fault's length: past the ~1 s lease margin, below the 3 s failure timeout
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await waitFor(async () => (await metricOf(n2, 'skein_quorum_lease')) === 1
        && (await metricOf(n2, 'skein_quorum_leases_lost_total')) > lost0,
      { timeoutMs: 10_000, intervalMs: 50, what: 'n2 to have lost its lease during the stop and to hold it again' });
      await waitLoadAcked(load, load.acked + 600, 15_000, 'the load to go on after the lapse');
      load.stopSending();
      const fc = await finalCheck(load, cluster.nodes.map((n) => n.url), { label: 'durability none: lease lapse' });
      const kept = await metricOf(n2, 'skein_quorum_lapse_kept_activations_total');
      console.log(JSON.stringify({ ...fc.stats, kept, lease_waits: await metricOf(n2, 'skein_quorum_lease_waits_total') }));
      assertNoProblems(fc.problems, 'durability none: a short lease lapse');
      assert.equal(fc.stats.resets, 0, 'no counter may start again at 0 after a lapse of a second');
      assert.ok(kept >= 8, `n2 must have kept its durability-none activations through the lapse (kept ${kept})`);
      const m = (await httpGetJson(`${n1.url}/cluster`)).members.find((x) => x.name === 'n2');
      assert.equal(m.incarnation, inc0, 'n2 must not have been declared down nor rejoined (the lapse was below the failure timeout)');
    } finally {
      load.closeAll();
    }
    await res.stop(cluster);
  });

  it('kill -9 of an owner during load: its counters are served again within timeout + 2 s, nothing acknowledged lost', { timeout: 90_000 }, async () => {
    const dataDir = res.tempDir('skein-kill-');
    const cluster = await res.launch({ nodes: 3, dataDir });
    await waitForMembership(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const ids = counterIds('k', 90);
    const owners = await ownersOf(n1, ids);
    const victimIds = ids.filter((id) => owners.get(id) === 'n3');
    const where = await placementsOf(n1, ids);
    assert.ok(victimIds.length >= 10, `n3 should own about a third of 90 counters, got ${victimIds.length}`);
    const load = new CounterLoad({ ids, nodes: cluster.nodes, rate: 1200, window: 4 });
    try {
      await load.connectAll();
      load.start();
      await waitLoadAcked(load, 2_500, 15_000);
      const pid = nodePid(dataDir, 'n3');
      assert.ok(pid, 'pid of n3');
      process.kill(pid, 'SIGKILL');
      const killAt = performance.now();
      load.deadUrls.add(n3.url);
      // Highest value acknowledged to anyone before the kill, per counter.
      const maxBefore = new Map();
      for (const c of load.all) {
        for (const [, v, at] of c.seen) if (at < killAt && v > (maxBefore.get(c.id) ?? -1)) maxBefore.set(c.id, v);
      }
      const deadline = killAt + FAILURE_TIMEOUT_MS + 2_000;
      const probes = await Promise.allSettled(victimIds.map((id) => readCounterUntil([n1.url, n2.url], id, deadline)));
      const problems = [];
      const restore = [];
      probes.forEach((p, i) => {
        const id = victimIds[i];
        if (p.status === 'rejected') { problems.push(`counter/${id} not served within ${deadline - killAt} ms of kill -9: ${p.reason.message}`); return; }
        restore.push(p.value.at - killAt);
        if (p.value.value < maxBefore.get(id)) problems.push(`counter/${id} [${where.get(id)}]: restored {"value":${p.value.value}} (seq ${p.value.seq}) < {"value":${maxBefore.get(id)}} acknowledged to a client before the kill`);
      });
      console.log(JSON.stringify({ metric: 'kill9_restore_ms', counters: victimIds.length, p50: Math.round(percentile(restore, 50)), max: Math.round(Math.max(...restore)) }));
      // The others say n3 is down.
      await waitFor(async () => {
        const v = await httpGetJson(`${n1.url}/cluster`);
        return v.members.find((m) => m.name === 'n3')?.state === 'down';
      }, { timeoutMs: 5_000, what: 'n1 /cluster to show n3 down' });
      const acked = load.acked;
      await waitLoadAcked(load, acked + 2_000, 15_000, 'the load to continue after failover');
      load.stopSending();
      const fc = await finalCheck(load, [n1.url, n2.url], { label: 'kill9', where });
      console.log(JSON.stringify(fc.stats));
      assertNoProblems([...problems, ...fc.problems], 'kill -9');
    } finally {
      load.closeAll();
    }
    await res.stop(cluster);
  });

  it('SIGSTOP an owner past the failure timeout, then SIGCONT: old activations are fenced, counters exact, no forks', { timeout: 90_000 }, async () => {
    const dataDir = res.tempDir('skein-stop-');
    const cluster = await res.launch({ nodes: 3, dataDir });
    await waitForMembership(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const ids = counterIds('p', 90);
    const owners = await ownersOf(n1, ids);
    const victimIds = ids.filter((id) => owners.get(id) === 'n3');
    const where = await placementsOf(n1, ids);
    assert.ok(victimIds.length >= 10, `n3 should own about a third of 90 counters, got ${victimIds.length}`);
    // Watchers of n3's counters on n3 itself (they would get any frame the
    // old activations released after the pause) and on n1.
    const watchers = victimIds.flatMap((id) => [
      { id, node: n3, others: [n1, n2] },
      { id, node: n1, others: [n2] },
    ]);
    const load = new CounterLoad({ ids, nodes: cluster.nodes, rate: 1200, window: 4, watchers });
    const inc0 = (await httpGetJson(`${n1.url}/cluster`)).members.find((m) => m.name === 'n3').incarnation;
    try {
      await load.connectAll();
      load.start();
      await waitLoadAcked(load, 2_500, 15_000);
      const pid = nodePid(dataDir, 'n3');
      assert.ok(pid, 'pid of n3');
      process.kill(pid, 'SIGSTOP');
      const stopAt = performance.now();
      let cont = false;
      try {
        await waitFor(async () => {
          const vs = await Promise.all([n1, n2].map((n) => httpGetJson(`${n.url}/cluster`)));
          return vs.every((v) => v.members.find((m) => m.name === 'n3')?.state === 'down');
        }, { timeoutMs: FAILURE_TIMEOUT_MS + 3_000, intervalMs: 50, what: 'n1 and n2 to declare the stopped n3 down' });
        const downMs = performance.now() - stopAt;
        const deadline = performance.now() + 5_000;
        const probes = await Promise.allSettled(victimIds.map((id) => readCounterUntil([n1.url, n2.url], id, deadline)));
        const failed = probes.map((p, i) => (p.status === 'rejected' ? `${victimIds[i]}: ${p.reason.message}` : null)).filter(Boolean);
        assert.deepEqual(failed, [], 'n3\'s counters must be served elsewhere while it is stopped');
        console.log(JSON.stringify({ metric: 'sigstop_declared_down_ms', ms: Math.round(downMs) }));
        const left = 6_000 - (performance.now() - stopAt);
        if (left > 0) await delay(left);
      } finally {
        process.kill(pid, 'SIGCONT');
        cont = true;
      }
      assert.ok(cont);
      // n3 rejoins as a new incarnation.
      let lastView;
      await waitFor(async () => {
        lastView = await httpGetJson(`${n1.url}/cluster`);
        const m = lastView.members.find((x) => x.name === 'n3');
        return m && m.state === 'up' && m.incarnation !== inc0;
      }, { timeoutMs: 20_000, intervalMs: 100, what: 'n3 to rejoin as a new incarnation', describe: () => JSON.stringify(lastView) });
      const acked = load.acked;
      await waitLoadAcked(load, acked + 2_000, 15_000, 'the load to continue after n3 rejoined');
      load.stopSending();
      const fc = await finalCheck(load, [n1.url, n2.url, n3.url], { label: 'sigstop', where });
      console.log(JSON.stringify(fc.stats));
      assertNoProblems(fc.problems, 'after SIGSTOP/SIGCONT');
    } finally {
      load.closeAll();
    }
    await res.stop(cluster);
  });

  it('resume: a chat client reconnecting through another node with last_seq gets exactly the missed events', { timeout: 60_000 }, async () => {
    const dataDir = res.tempDir('skein-resume-');
    const cluster = await res.launch({ nodes: 3, dataDir });
    await waitForMembership(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const room = 'resume-room';
    const a = await res.connect(wsUrl(n1.url, `/ws/chat/${room}?user=alice`), { label: 'alice@n1' });
    await a.nextData(isHistory, 10_000, 'history');
    await a.send({ type: 'say', text: 'before' });
    await a.nextData((d) => isSaid(d) && d.text === 'before', 10_000, 'own said');
    const clientId = a.welcome?.client;
    const resumeToken = a.welcome?.resume_token;
    assert.ok(clientId, 'welcome frame with the client id');
    assert.equal(a.welcome.node, 'n1');
    const lastSeq = a.frames.at(-1).seq;
    await a.close();

    const b = await res.connect(wsUrl(n2.url, `/ws/chat/${room}?user=bob`), { label: 'bob@n2' });
    await b.nextData(isHistory, 10_000, 'history');
    const texts = Array.from({ length: 10 }, (_, i) => `missed ${i}`);
    for (const text of texts) await b.send({ type: 'say', text });
    await b.nextData((d) => isSaid(d) && d.text === texts.at(-1), 10_000, 'last said');

    const a2 = await res.connect(wsUrl(n3.url, `/ws/chat/${room}?user=alice&client=${encodeURIComponent(clientId)}&last_seq=${lastSeq}&resume_token=${resumeToken}`), { label: 'alice resumed@n3' });
    for (let i = 0; i < 10; i++) await a2.next(() => true, 10_000, `replayed frame ${i}`);
    assert.equal(a2.welcome?.client, clientId, 'a resumed connection keeps its client id');
    assert.equal(a2.welcome?.node, 'n3');
    assert.deepEqual(a2.frames.slice(0, 10).map((f) => f.data), texts.map((text) => ({ type: 'said', user: 'bob', text })),
      `the resumed client must get exactly the 10 missed said events, in order; ${a2.describe(12)}`);
    assert.ok(a2.frames[0].seq > lastSeq, `replayed seqs must be after last_seq ${lastSeq}: ${a2.frames[0].seq}`);
    assert.equal(seqProblem(a2.frames), null);
    // Then live ones, and nothing else in between.
    await b.send({ type: 'say', text: 'live' });
    const live = await a2.nextData((d) => isSaid(d) && d.text === 'live', 10_000, 'live said');
    assert.equal(a2.frames.indexOf(live), 10, `the live event must follow the 10 replayed ones directly; ${a2.describe(12)}`);
    await res.stop(cluster);
  });

  it('resume with last_seq older than the compacted outbox: reset, then the current history', { timeout: 60_000 }, async () => {
    const dataDir = res.tempDir('skein-reset-');
    const cluster = await res.launch({
      nodes: 3,
      dataDir,
      extraArgs: ['--kind-option', 'chat.outbox_keep=5', '--kind-option', 'chat.keep_snapshots=1', '--kind-option', 'chat.snapshot_every=3'],
    });
    await waitForMembership(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const room = 'reset-room';
    const a = await res.connect(wsUrl(n1.url, `/ws/chat/${room}?user=alice`), { label: 'alice@n1' });
    await a.nextData(isHistory, 10_000, 'history');
    const clientId = a.welcome?.client;
    const resumeToken = a.welcome?.resume_token;
    assert.ok(clientId);
    const lastSeq = a.frames.at(-1).seq;
    await a.close();
    const b = await res.connect(wsUrl(n2.url, `/ws/chat/${room}?user=bob`), { label: 'bob@n2' });
    await b.nextData(isHistory, 10_000, 'history');
    const texts = Array.from({ length: 40 }, (_, i) => `m${i}`);
    for (const text of texts) await b.send({ type: 'say', text });
    await b.nextData((d) => isSaid(d) && d.text === texts.at(-1), 10_000, 'last said');
    const a2 = await res.connect(wsUrl(n3.url, `/ws/chat/${room}?user=alice&client=${encodeURIComponent(clientId)}&last_seq=${lastSeq}&resume_token=${resumeToken}`), { label: 'alice resumed@n3' });
    const first = await a2.next(() => true, 10_000, 'the first frame after a too-old resume');
    assert.deepEqual(first.data, { type: 'reset' }, `first frame must be {"type":"reset"}; ${a2.describe()}`);
    const h = await a2.next(() => true, 10_000, 'the state after reset');
    assert.ok(isHistory(h.data), `after reset: history, got ${JSON.stringify(h.data)}`);
    assert.deepEqual(h.data.messages.map((m) => m.text), texts, 'history after reset = the 40 messages');
    assert.ok(first.seq > lastSeq && h.seq > first.seq);
    await b.send({ type: 'say', text: 'live' });
    await a2.nextData((d) => isSaid(d) && d.text === 'live', 10_000, 'live said after reset');
    await res.stop(cluster);
  });
});
