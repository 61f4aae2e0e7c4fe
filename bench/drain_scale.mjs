// Handoff at scale (issue 11, item 5): a 3-node cluster holding N counters
// without clients, each acknowledged (a message ack) at value 1; then either
// one node is drained (--mode drain, the default: its idle sessions leave by
// passivation) or a fourth node joins (--mode join: every session it now
// owns is handed off to it, a full copy each over BASP, the bulk state that
// heartbeats must not wait behind). The move must finish with every
// acknowledged value intact, and no node may lose its quorum lease. Prints
// one JSON line:
//   {"metric":"drain_scale"|"join_scale", sessions, on_drained|to_joiner,
//    drain_s|join_s, moved_per_s, peak_rss_mib:{n1,n2,n3(,n4)}, lost, wrong,
//    unreadable, heartbeats:{late:{basp,udp}, gap_max_s:{basp,udp}},
//    leases_lost, membership_changes}
// (heartbeats: summed over the nodes, from their /metrics, during the move;
// gap_max_s: the longest gap any node saw since it started) and exits 1 if
// any acknowledged value is lost, the move does not finish or a lease is lost.
//
//   SKEIN_DEMO=build/bin/skein-demo node bench/drain_scale.mjs [--sessions 60000]
//     [--mode drain|join] [--concurrency 200] [--drain n1] [--timeout-s 300]
//     [--heartbeat-udp true|false]

import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { SkeinClient } from '../clients/js/dist/index.js';
import { Resources, httpGet, httpGetJson, placement, waitFor, waitForMembership } from '../tests/cluster/cluster.mjs';
import { nodePid, readCounterUntil, ctl, addNode } from '../tests/cluster/procs.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const SESSIONS = Number(opt('sessions', 60000));
const CONCURRENCY = Number(opt('concurrency', 200));
const DRAIN = opt('drain', 'n1');
const TIMEOUT_S = Number(opt('timeout-s', 300));
const MODE = opt('mode', 'drain');
const HEARTBEAT_UDP = opt('heartbeat-udp', 'true');
if (!['drain', 'join'].includes(MODE)) { console.error('--mode drain|join'); process.exit(2); }

/** Sums of the heartbeat and lease metrics over `urls`. */
async function heartbeatMetrics(urls) {
  const sum = { late: { basp: 0, udp: 0 }, gap_max_s: { basp: 0, udp: 0 }, leases_lost: 0, membership_changes: 0 };
  for (const url of urls) {
    const body = (await httpGet(`${url}/metrics`, { timeoutMs: 10_000 })).body;
    const num = (re) => { const m = re.exec(body); return m ? Number(m[1]) : 0; };
    for (const ch of ['basp', 'udp']) {
      sum.late[ch] += num(new RegExp(`^skein_heartbeats_late_total\\{channel="${ch}"\\} (\\S+)$`, 'm'));
      sum.gap_max_s[ch] = Math.max(sum.gap_max_s[ch], num(new RegExp(`^skein_heartbeat_gap_max_seconds\\{channel="${ch}"\\} (\\S+)$`, 'm')));
    }
    sum.leases_lost += num(/^skein_quorum_leases_lost_total (\S+)$/m);
    sum.membership_changes += num(/^skein_membership_changes_total (\S+)$/m);
  }
  return sum;
}

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
let joiner = null;  // --mode join: the fourth node (stopped at the end)
try {
  const dataDir = res.tempDir('skein-bench-drain-');
  // idle_ms=0: the counters stay active however long the fill takes, so the
  // drain moves all of the drained node's share (with the default 300 s a
  // slow fill passivates the first ones before the drain).
  const cluster = await res.launch({ nodes: 3, dataDir, timeoutMs: 120_000,
    extraArgs: ['--kind-option', 'counter.idle_ms=0', '--heartbeat-udp', HEARTBEAT_UDP] });
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
  let readUrls, moved, moveS, finished = true;
  // The nodes that stay: their metrics are summed before and after.
  const stay = MODE === 'drain' ? cluster.nodes.filter((n) => n.name !== DRAIN).map((n) => n.url) : urls;
  const hb0 = await heartbeatMetrics(stay);
  const tm = performance.now();
  if (MODE === 'drain') {
    const drained = cluster.node(DRAIN);
    const before = await httpGetJson(`${drained.url}/cluster`);
    moved = before.sessions.length;
    const rest = cluster.nodes.filter((n) => n.name !== DRAIN);
    const r = await ctl(drained.url, ['drain', DRAIN], { timeoutMs: 60_000, dataDir });
    if (r.code !== 0) throw new Error(`ctl drain: ${r.stdout} ${r.stderr}`);
    await waitFor(async () => {
      const views = await Promise.all(rest.map((n) => httpGetJson(`${n.url}/cluster`).catch(() => null)));
      return views.every((v) => v && !v.members.some((m) => m.name === DRAIN && m.state !== 'down'));
    }, { timeoutMs: TIMEOUT_S * 1000, intervalMs: 250, what: `${DRAIN} to drain and leave` }).catch(() => { finished = false; });
    readUrls = rest.map((n) => n.url);
  } else {
    // A fourth node joins: every session it now owns is handed off to it
    // (a full copy each). Its skein_migrations_in_total is sampled every
    // 500 ms from the moment it is ready (cheap: /cluster on a node holding
    // 20,000 sessions is megabytes of JSON, and polling it slowed the move
    // it measured); its share is asked of it meanwhile, eight placement
    // queries at a time. The move is done when the count reaches that
    // share; then one /cluster checks that it holds every one of them.
    joiner = await addNode(dataDir, { timeoutMs: 120_000,
      extraArgs: ['--kind-option', 'counter.idle_ms=0', '--heartbeat-udp', HEARTBEAT_UDP] });
    pids[joiner.name] = nodePid(dataDir, joiner.name);
    const samples = [];  // [performance.now(), migrations in]
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t = performance.now();
        const body = (await httpGet(`${joiner.url}/metrics`, { timeoutMs: 10_000 }).catch(() => null))?.body ?? '';
        const m = /^skein_migrations_in_total (\S+)$/m.exec(body);
        if (m) samples.push([t, Number(m[1])]);
        if (samples.length % 20 === 0 && samples.length)
          process.stderr.write(`join: ${((t - joiner.readyAt) / 1000).toFixed(0)} s, ${samples.at(-1)[1]} moved in\n`);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const mine = [];
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < SESSIONS) {
        const i = next++;
        if (failedAdds.has(i)) continue;
        const p = await placement({ url: joiner.url }, `counter/d-${i}`);
        if (p.owner === joiner.name) mine.push(`counter/d-${i}`);
      }
    }));
    moved = mine.length;
    await waitFor(async () => (samples.at(-1)?.[1] ?? 0) >= moved,
      { timeoutMs: TIMEOUT_S * 1000, intervalMs: 250, what: `${joiner.name} to take its ${moved} sessions`,
        describe: () => `${samples.at(-1)?.[1] ?? 0} moved in` }).catch(() => { finished = false; });
    // A retried handoff (its answer timed out) counts twice on the joiner:
    // once the count is reached, /cluster is asked every 2 s until every
    // session of its share is there.
    let notHeld = mine;
    let allHeldAt = null;
    if (finished)
      await waitFor(async () => {
        const held = new Set((await httpGetJson(`${joiner.url}/cluster`, { timeoutMs: 60_000 })).sessions);
        notHeld = mine.filter((k) => !held.has(k));
        if (notHeld.length === 0) allHeldAt = performance.now();
        return notHeld.length === 0;
      }, { timeoutMs: TIMEOUT_S * 1000, intervalMs: 2_000, what: `${joiner.name} to hold its share` }).catch(() => {});
    polling = false;
    await poller;
    if (notHeld.length) {
      finished = false;
      process.stderr.write(`join: ${notHeld.length} of its sessions not on ${joiner.name}, e.g. ${notHeld.slice(0, 5)}\n`);
    }
    // From ready to the /cluster that showed every session of its share.
    moveS = ((allHeldAt ?? performance.now()) - joiner.readyAt) / 1000;
    readUrls = [...urls, joiner.url];
  }
  if (MODE === 'drain') moveS = (performance.now() - tm) / 1000;
  const hb1 = await heartbeatMetrics(readUrls);
  const peak = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, peakRssMiB(p)]));
  // Every acknowledged counter must read 1 through the remaining nodes.
  let lost = 0, wrong = 0, unreadable = 0;
  const unreadableWhy = [];
  await pool(SESSIONS, async (i) => {
    if (failedAdds.has(i)) return;
    try {
      const v = await readCounterUntil(readUrls, `d-${i}`, performance.now() + 20_000);
      if (v.value === 0) lost++;
      else if (v.value !== 1) wrong++;
    } catch (e) {
      unreadable++;
      if (unreadableWhy.length < 5) unreadableWhy.push(`d-${i}: ${e.message}`);
    }
  });
  const line = {
    metric: MODE === 'drain' ? 'drain_scale' : 'join_scale', sessions: SESSIONS, acked, failed_adds: failedAdds.size,
    fill_s: +fillS.toFixed(1), heartbeat_udp: HEARTBEAT_UDP === 'true',
    [MODE === 'drain' ? 'on_drained' : 'to_joiner']: moved, finished,
    [MODE === 'drain' ? 'drain_s' : 'join_s']: +moveS.toFixed(1),
    moved_per_s: Math.round(moved / moveS), peak_rss_mib: peak, lost, wrong, unreadable,
    heartbeats: {
      late: { basp: hb1.late.basp - hb0.late.basp, udp: hb1.late.udp - hb0.late.udp },
      gap_max_s: { basp: +hb1.gap_max_s.basp.toFixed(3), udp: +hb1.gap_max_s.udp.toFixed(3) },
    },
    leases_lost: hb1.leases_lost - hb0.leases_lost,
    membership_changes: hb1.membership_changes - hb0.membership_changes,
    ...(unreadableWhy.length ? { unreadable_examples: unreadableWhy } : {}),
  };
  console.log(JSON.stringify(line));
  failed = !finished || lost > 0 || wrong > 0 || unreadable > 0 || line.leases_lost > 0;
} catch (e) {
  console.error(`drain_scale: ${e.stack ?? e}`);
  failed = true;
} finally {
  await joiner?.stop().catch(() => {});
  await res.cleanup().catch(() => {});
}
process.exit(failed ? 1 : 0);
