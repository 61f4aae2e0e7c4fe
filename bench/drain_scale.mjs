// Handoff at scale (issue 11, item 5): a 3-node cluster holding N counters
// without clients, each acknowledged (a message ack) at value 1; one node is drained; the
// drain must finish with every acknowledged value intact. Prints JSON lines:
//   {"metric":"drain_scale", sessions, on_drained, drain_s, moved_per_s,
//    peak_rss_mib:{n1,n2,n3}, lost, wrong, unreadable, membership_changes}
// and exits 1 if any acknowledged value is lost or the drain does not finish.
//
//   SKEIN_DEMO=build/bin/skein-demo node bench/drain_scale.mjs [--sessions 60000]
//     [--concurrency 200] [--drain n1] [--timeout-s 300]

import fs from 'node:fs';
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
  const pids = Object.fromEntries(cluster.nodes.map((n) => [n.name, nodePid(dataDir, n.name)]));
  const t0 = performance.now();
  let acked = 0;
  const failedAdds = new Set();
  await pool(SESSIONS, async (i) => {
    try {
      await addOne(urls[i % urls.length], `d-${i}`);
      acked++;
    } catch (e) { failedAdds.add(i); }
  });
  const fillS = (performance.now() - t0) / 1000;
  const drained = cluster.node(DRAIN);
  const before = await httpGetJson(`${drained.url}/cluster`);
  const onDrained = before.sessions.length;
  const rest = cluster.nodes.filter((n) => n.name !== DRAIN);
  const td = performance.now();
  const r = await ctl(drained.url, ['drain', DRAIN], { timeoutMs: 60_000, dataDir });
  if (r.code !== 0) throw new Error(`ctl drain: ${r.stdout} ${r.stderr}`);
  let finished = true;
  await waitFor(async () => {
    const views = await Promise.all(rest.map((n) => httpGetJson(`${n.url}/cluster`).catch(() => null)));
    return views.every((v) => v && !v.members.some((m) => m.name === DRAIN && m.state !== 'down'));
  }, { timeoutMs: TIMEOUT_S * 1000, intervalMs: 250, what: `${DRAIN} to drain and leave` }).catch(() => { finished = false; });
  const drainS = (performance.now() - td) / 1000;
  const peak = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, peakRssMiB(p)]));
  // Every acknowledged counter must read 1 through the remaining nodes.
  let lost = 0, wrong = 0, unreadable = 0;
  const unreadableWhy = [];
  const restUrls = rest.map((n) => n.url);
  await pool(SESSIONS, async (i) => {
    if (failedAdds.has(i)) return;
    try {
      const v = await readCounterUntil(restUrls, `d-${i}`, performance.now() + 20_000);
      if (v.value === 0) lost++;
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
    ...(unreadableWhy.length ? { unreadable_examples: unreadableWhy } : {}),
  };
  console.log(JSON.stringify(line));
  failed = !finished || lost > 0 || wrong > 0 || unreadable > 0;
} catch (e) {
  console.error(`drain_scale: ${e.stack ?? e}`);
  failed = true;
} finally {
  await res.cleanup().catch(() => {});
}
process.exit(failed ? 1 : 0);
