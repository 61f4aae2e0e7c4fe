// Handoff at scale (issue 11, item 5): a 3-node cluster holding N counters,
// each acknowledged at value 1 (filled through the publish API, 200 once
// durable, or one WebSocket client per add with --fill ws); one node is
// drained while --busy of its counters keep a client that adds every 250 ms
// (those are handed off with their clients; the idle rest passivate). The
// drain must finish with every acknowledged value intact, and the remaining
// nodes' heartbeats must not fall behind the bulk traffic. Prints one JSON line:
//   {"metric":"drain_scale", sessions, on_drained, drain_s, moved_per_s,
//    peak_rss_mib:{n1,n2,n3}, lost, wrong, unreadable, busy, busy_adds,
//    busy_wrong, heartbeat_gap_max_s, late_heartbeats, membership_changes}
// (late_heartbeats: gaps over 1 s between two heartbeats of one peer,
// counted by the remaining nodes during the drain; membership_changes: the
// members they saw leave or join meanwhile, the drained node's exit is 1 each)
// and exits 1 if any acknowledged value is lost or the drain does not finish.
//
//   SKEIN_DEMO=build/bin/skein-demo node bench/drain_scale.mjs [--sessions 60000]
//     [--concurrency 200] [--drain n1] [--busy 200] [--fill publish|ws] [--timeout-s 300]

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SkeinClient } from '../clients/js/dist/index.js';
import { Resources, httpGetJson, waitFor, waitForMembership } from '../tests/cluster/cluster.mjs';
import { nodePid, readCounterUntil, ctl } from '../tests/cluster/procs.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const SESSIONS = Number(opt('sessions', 60000));
const CONCURRENCY = Number(opt('concurrency', 200));
const DRAIN = opt('drain', 'n1');
const TIMEOUT_S = Number(opt('timeout-s', 300));
const BUSY = Number(opt('busy', 200));
const FILL = opt('fill', 'publish');

/**
 * Adds 1 to counter/ID through @skein/client (clients/js; build it first:
 * `cd clients/js && npm ci && npm run build`), connected straight to `url`;
 * resolves once the add is acknowledged (durable on the owner and replicas).
 */
async function addOne(url, id, timeoutMs = 30_000) {
  const c = new SkeinClient({ url, kind: 'counter', id, route: 'direct', discover: false });
  let timer;
  try {
    await Promise.race([
      c.connect().then(() => c.send({ op: 'add', by: 1 })),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`counter/${id}: no ack within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
  } finally {
    clearTimeout(timer);
    c.close();
  }
}

/**
 * Adds 1 to counter/ID through the publish API (200 once durable); the
 * Idempotency-Key makes a retry after a timeout or a 503 safe.
 */
async function publishOne(url, id, auth, timeoutMs = 30_000) {
  const deadline = performance.now() + timeoutMs;
  let last;
  while (performance.now() < deadline) {
    try {
      const r = await fetch(`${url}/api/sessions/counter/${id}/messages`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json', 'idempotency-key': `fill-${id}` },
        body: '{"op":"add","by":1}',
        signal: AbortSignal.timeout(Math.max(100, deadline - performance.now())),
      });
      const text = await r.text();
      if (r.status === 200) return;
      last = new Error(`counter/${id}: HTTP ${r.status} ${text.slice(0, 200)}`);
      if (r.status < 500) throw last;
    } catch (e) {
      last = e;
      if (/HTTP 4/.test(e.message)) throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw last ?? new Error(`counter/${id}: no answer within ${timeoutMs} ms`);
}

/** The heartbeat and membership figures of a node's /metrics. */
async function heartbeatMetrics(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const num = (re) => { const m = re.exec(text); return m ? Number(m[1]) : 0; };
  return {
    count: num(/^skein_heartbeat_gap_seconds_count (\S+)/m),
    upTo1s: num(/^skein_heartbeat_gap_seconds_bucket\{le="1(?:\.0)?"\} (\S+)/m),
    maxS: num(/^skein_heartbeat_gap_max_seconds (\S+)/m),
    changes: num(/^skein_membership_changes_total (\S+)/m),
  };
}

async function pool(n, worker) {
  let next = 0;
  const run = async () => { while (next < n) await worker(next++); };
  await Promise.all(Array.from({ length: CONCURRENCY }, run));
}

function peakRssMiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch { return null; }
}

const res = new Resources();
let failed = false;
try {
  const dataDir = res.tempDir('skein-bench-drain-');
  // idle_ms=0: the counters stay active however long the fill takes, so the
  // drain moves all of the drained node's share (with the default 300 s a
  // slow fill passivates the first ones before the drain).
  const cluster = await res.launch({ nodes: 3, dataDir, timeoutMs: 120_000,
    extraArgs: ['--kind-option', 'counter.idle_ms=0'] });
  await waitForMembership(cluster);
  const urls = cluster.nodes.map((n) => n.url);
  const auth = `Bearer ${fs.readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim()}`;
  const pids = Object.fromEntries(cluster.nodes.map((n) => [n.name, nodePid(dataDir, n.name)]));
  const t0 = performance.now();
  let acked = 0;
  const failedAdds = new Set();
  await pool(SESSIONS, async (i) => {
    try {
      if (FILL === 'ws') await addOne(urls[i % urls.length], `d-${i}`);
      else await publishOne(urls[i % urls.length], `d-${i}`, auth);
      acked++;
    } catch (e) { failedAdds.add(i); }
  });
  const fillS = (performance.now() - t0) / 1000;
  const drained = cluster.node(DRAIN);
  const before = await httpGetJson(`${drained.url}/cluster`);
  const onDrained = before.sessions.length;
  const rest = cluster.nodes.filter((n) => n.name !== DRAIN);
  // Busy counters: some of the drained node's, each with a client connected
  // through another node that adds every 250 ms through the drain.
  const busyIds = before.sessions.map((s) => (typeof s === 'string' ? s : s.key ?? s.session))
    .filter((k) => typeof k === 'string' && k.startsWith('counter/d-')).slice(0, BUSY).map((k) => k.slice('counter/'.length));
  const busy = await Promise.all(busyIds.map(async (id, i) => {
    const c = new SkeinClient({ url: rest[i % rest.length].url, kind: 'counter', id, route: 'direct', discover: false });
    await c.connect();
    return { id, c, acked: 0, failed: 0 };
  }));
  let busyRunning = true;
  const busyLoops = busy.map(async (b) => {
    while (busyRunning) {
      try { await b.c.send({ op: 'add', by: 1 }); b.acked++; } catch { b.failed++; }
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  const hbBefore = await Promise.all(rest.map((n) => heartbeatMetrics(n.url)));
  const td = performance.now();
  const r = await ctl(drained.url, ['drain', DRAIN], { timeoutMs: 60_000, dataDir });
  if (r.code !== 0) throw new Error(`ctl drain: ${r.stdout} ${r.stderr}`);
  let finished = true;
  await waitFor(async () => {
    const views = await Promise.all(rest.map((n) => httpGetJson(`${n.url}/cluster`).catch(() => null)));
    return views.every((v) => v && !v.members.some((m) => m.name === DRAIN && m.state !== 'down'));
  }, { timeoutMs: TIMEOUT_S * 1000, intervalMs: 250, what: `${DRAIN} to drain and leave` }).catch(() => { finished = false; });
  const drainS = (performance.now() - td) / 1000;
  const hbAfter = await Promise.all(rest.map((n) => heartbeatMetrics(n.url)));
  busyRunning = false;
  await Promise.all(busyLoops);
  for (const b of busy) b.c.close();
  const peak = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, peakRssMiB(p)]));
  // Every acknowledged counter must read 1 through the remaining nodes.
  let lost = 0, wrong = 0, unreadable = 0, busyWrong = 0;
  const busyOf = new Map(busy.map((b) => [`d-${b.id.slice(2)}`, b]));
  const unreadableWhy = [];
  const restUrls = rest.map((n) => n.url);
  await pool(SESSIONS, async (i) => {
    if (failedAdds.has(i)) return;
    try {
      const v = await readCounterUntil(restUrls, `d-${i}`, performance.now() + 20_000);
      const b = busyOf.get(`d-${i}`);
      if (b) {
        // Every acknowledged add applied once; a failed send may or may not have been.
        if (v.value < 1 + b.acked || v.value > 1 + b.acked + b.failed) busyWrong++;
      } else if (v.value === 0) lost++;
      else if (v.value !== 1) wrong++;
    } catch (e) {
      unreadable++;
      if (unreadableWhy.length < 5) unreadableWhy.push(`d-${i}: ${e.message}`);
    }
  });
  const line = {
    metric: 'drain_scale', sessions: SESSIONS, acked, failed_adds: failedAdds.size, fill_s: +fillS.toFixed(1),
    on_drained: onDrained, drain_finished: finished, drain_s: +drainS.toFixed(1),
    moved_per_s: Math.round(onDrained / drainS), peak_rss_mib: peak, lost, wrong, unreadable,
    busy: busy.length, busy_adds: busy.reduce((s, b) => s + b.acked, 0),
    busy_failed: busy.reduce((s, b) => s + b.failed, 0), busy_wrong: busyWrong,
    heartbeat_gap_max_s: Math.max(...hbAfter.map((h) => h.maxS)),
    late_heartbeats: hbAfter.reduce((s, h, i) => s + (h.count - hbBefore[i].count) - (h.upTo1s - hbBefore[i].upTo1s), 0),
    membership_changes: hbAfter.reduce((s, h, i) => s + h.changes - hbBefore[i].changes, 0),
    ...(unreadableWhy.length ? { unreadable_examples: unreadableWhy } : {}),
  };
  console.log(JSON.stringify(line));
  failed = !finished || lost > 0 || wrong > 0 || unreadable > 0 || busyWrong > 0;
} catch (e) {
  console.error(`drain_scale: ${e.stack ?? e}`);
  failed = true;
} finally {
  await res.cleanup().catch(() => {});
}
process.exit(failed ? 1 : 0);
