// One nemesis schedule: a fresh cluster of `nodes` nodes in namespaces,
// counter writers/watchers and chat clients, a seeded sequence of faults
// (one at a time, each healed before the next), then heal everything,
// measure convergence, read every counter on every node, stop the nodes,
// read their stores with `inspect --json` and run the checker.
//
// Everything random comes from mulberry32(seed): the workload sizes, the
// fault kinds, their targets (drawn as fractions, applied to the membership
// at that moment), durations and gaps. The same seed replays the same plan.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CounterLoad, readCounterUntil, delay } from '../cluster/procs.mjs';
import { ChatLoad } from './chat_load.mjs';
import { checkChat, checkCounters, checkJournals } from './checker.mjs';
import { Cluster } from './nodes.mjs';
import { cut, heal, lose } from './netns.mjs';
import { readStores } from './stores.mjs';

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const SAFE_FAULTS = ['kill', 'pause_short', 'pause_long', 'drain', 'join'];
export const ALL_FAULTS = [...SAFE_FAULTS, 'partition_majority', 'partition_bridge', 'isolate', 'loss'];
// Faults added after seeds were published: named with --faults, or all of
// them with --faults every. Not in ALL_FAULTS, so that `--faults all --seed S`
// keeps replaying the schedule it printed (the draw depends on the list).
export const EXTRA_FAULTS = ['restart_minority'];
export const EVERY_FAULT = [...ALL_FAULTS, ...EXTRA_FAULTS];

const between = (rng, lo, hi) => lo + rng() * (hi - lo);

/** The plan of one schedule: workload sizes and timed fault steps. */
export function makePlan({ seed, durationMs, faults, failureTimeoutMs }) {
  const rng = mulberry32(seed);
  const plan = {
    seed,
    counters: 8 + Math.floor(rng() * 12),
    rate: Math.round(between(rng, 80, 240)),
    window: 2 + Math.floor(rng() * 3),
    rooms: 2 + Math.floor(rng() * 3),
    perRoom: 3,
    sayEveryMs: Math.round(between(rng, 150, 400)),
    workloadSeed: Math.floor(rng() * 2 ** 32),
    steps: [],
  };
  let t = 4000;
  while (t < durationMs - 4000) {
    const kind = faults[Math.floor(rng() * faults.length)];
    let holdMs = Math.round(between(rng, 2000, 8000));
    if (kind === 'pause_short') holdMs = Math.round(between(rng, 0.3, 0.7) * failureTimeoutMs);
    if (kind === 'pause_long') holdMs = Math.round(between(rng, 1.5, 3) * failureTimeoutMs);
    const step = { at: t, kind, holdMs, pick: [rng(), rng(), rng()], p: Math.round(between(rng, 0.05, 0.3) * 100) / 100 };
    plan.steps.push(step);
    t += holdMs + Math.round(between(rng, 1500, 5000));
  }
  return plan;
}

function pickFrom(list, r) { return list[Math.floor(r * list.length) % list.length]; }

function shuffled(list, r) {
  const out = [...list];
  let x = r;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 9301 + 0.49297) % 1;
    const j = Math.floor(x * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Applies one step; resolves with a description once it has been healed. */
async function applyStep(cluster, step, log) {
  const members = cluster.members();
  const live = cluster.live();
  const target = pickFrom(live, step.pick[0]);
  const hold = () => delay(step.holdMs);
  switch (step.kind) {
    case 'kill': {
      await cluster.kill(target);
      await hold();
      cluster.restart(target);
      return `kill -9 ${target.name}, restart after ${step.holdMs} ms`;
    }
    case 'pause_short':
    case 'pause_long': {
      cluster.pause(target);
      await hold();
      cluster.resume(target);
      return `SIGSTOP ${target.name} for ${step.holdMs} ms`;
    }
    case 'drain': {
      if (members.length <= 3) return 'drain skipped (3 members)';
      const via = pickFrom(live, step.pick[1]);
      const r = await fetch(`${via.url}/admin/drain?node=${target.name}`, { method: 'POST', headers: cluster.adminHeaders(), signal: AbortSignal.timeout(5000) }).catch((e) => ({ status: e.message }));
      const deadline = performance.now() + 30_000;
      while (target.running && performance.now() < deadline) await delay(100);
      const drained = !target.running;
      await hold();
      if (!target.running) cluster.restart(target);
      return `drain ${target.name} via ${via.name} (HTTP ${r.status}; ${drained ? 'exited' : 'still running after 30 s'}), restart`;
    }
    case 'join': {
      if (cluster.slotFree() < 0) return 'join skipped (no free host)';
      const n = await cluster.join();
      await hold();
      return `join ${n.name}`;
    }
    case 'partition_majority':
    case 'isolate':
    case 'partition_bridge': {
      const order = shuffled(members, step.pick[1]);
      let a;
      let b;
      let bridge = null;
      if (step.kind === 'isolate') { a = [target]; b = members.filter((m) => m !== target); }
      else if (step.kind === 'partition_majority') { const k = Math.floor(order.length / 2); a = order.slice(0, k); b = order.slice(k); }
      else { bridge = order[0]; const rest = order.slice(1); const k = Math.ceil(rest.length / 2); a = rest.slice(0, k); b = rest.slice(k); }
      for (const x of a) cut(x.host, b.map((y) => y.host));
      for (const y of b) cut(y.host, a.map((x) => x.host));
      await hold();
      for (const x of [...a, ...b]) heal(x.host);
      const names = (xs) => xs.map((x) => x.name).join(',');
      return `${step.kind} {${names(a)}} | {${names(b)}}${bridge ? ` bridge ${bridge.name}` : ''} for ${step.holdMs} ms`;
    }
    case 'restart_minority': {
      // A strict minority is cut off, killed with -9 and restarted while
      // still cut off: its restarted processes reach only each other and
      // must not form a cluster of their own (they keep their stores).
      const order = shuffled(members, step.pick[1]);
      const k = Math.ceil(order.length / 2) - 1;
      if (k < 1) return 'restart_minority skipped (too few members)';
      const a = order.slice(0, k);
      const b = order.slice(k);
      for (const x of a) cut(x.host, b.map((y) => y.host));
      for (const y of b) cut(y.host, a.map((x) => x.host));
      await Promise.all(a.map((x) => cluster.kill(x)));
      await delay(500);
      for (const x of a) cluster.restart(x);
      await hold();
      for (const x of [...a, ...b]) heal(x.host);
      const names = (xs) => xs.map((x) => x.name).join(',');
      return `restart_minority {${names(a)}} killed and restarted behind a partition from {${names(b)}} for ${step.holdMs} ms`;
    }
    case 'loss': {
      const victims = [target, pickFrom(live, step.pick[1])].filter((x, i, xs) => xs.indexOf(x) === i);
      for (const v of victims) lose(v.host, step.p);
      await hold();
      for (const v of victims) heal(v.host);
      return `loss ${step.p} on ${victims.map((v) => v.name).join(',')} for ${step.holdMs} ms`;
    }
    default:
      throw new Error(`unknown fault ${step.kind}`);
  }
}

/**
 * Runs one schedule. opts: {seed, net, bin, nodes, durationMs, faults (list),
 * extraArgs, rate (overrides the plan's adds/s), log}. Returns {plan, faults, operations, anomalies,
 * notes, convergeMs, stalled (liveness findings, not anomalies)}.
 */
export async function runSchedule({ seed, net, bin, nodes = 5, durationMs = 60_000, faults = SAFE_FAULTS, extraArgs = [], failureTimeoutMs = 3000, rate, log = () => {} }) {
  const plan = makePlan({ seed, durationMs, faults, failureTimeoutMs });
  if (rate) plan.rate = rate;
  log(`schedule seed ${seed}: ${plan.counters} counters at ${plan.rate} adds/s (window ${plan.window}), ${plan.rooms} rooms x ${plan.perRoom}, faults ${plan.steps.map((s) => s.kind).join(' ')}`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-nemesis-'));
  const cluster = new Cluster({ net, bin, dataDir, extraArgs, failureTimeoutMs, log });
  const anomalies = [];
  const notes = [];
  const stalled = [];  // liveness: writers with an open connection and no ack 20 s after healing
  let faultCount = 0;
  let counters;
  let chat;
  let convergeMs = null;
  const reads = new Map();
  try {
    await cluster.startAll(nodes);
    const wrng = mulberry32(plan.workloadSeed);
    const homes = cluster.members();
    counters = new CounterLoad({
      ids: Array.from({ length: plan.counters }, (_, i) => `c${seed}-${i}`),
      nodes: homes, rate: plan.rate, window: plan.window,
      watchers: Array.from({ length: Math.ceil(plan.counters / 3) }, (_, i) => {
        const node = pickFrom(homes, wrng());
        return { id: `c${seed}-${i * 3}`, node, others: homes.filter((h) => h !== node) };
      }),
    });
    chat = new ChatLoad({ rooms: plan.rooms, perRoom: plan.perRoom, urls: homes.map((h) => h.url), everyMs: plan.sayEveryMs, rng: wrng });
    const markDead = () => {
      const dead = new Set(cluster.nodes.filter((n) => !n.running || n.paused).map((n) => n.url));
      counters.deadUrls = dead;
      chat.deadUrls = dead;
    };
    const deadTimer = setInterval(markDead, 100);
    await counters.connectAll();
    counters.start();
    chat.start();
    const t0 = performance.now();
    for (const step of plan.steps) {
      if (performance.now() - t0 > durationMs - 4000) break;  // a slow drain ate the time
      const wait = t0 + step.at - performance.now();
      if (wait > 0) await delay(wait);
      const what = await applyStep(cluster, step, log);
      if (!/skipped/.test(what)) faultCount++;
      log(`  +${Math.round(performance.now() - t0)} ms: ${what}`);
    }
    const left = t0 + durationMs - performance.now();
    if (left > 0) await delay(left);
    // Heal everything: rules gone, paused nodes resumed, stopped nodes back.
    for (const h of net.hosts) heal(h);
    for (const n of cluster.nodes) {
      cluster.resume(n);
      if (!n.running) cluster.restart(n);
    }
    const healedAt = performance.now();
    try {
      convergeMs = await cluster.waitConverged(15_000);
    } catch (e) {
      anomalies.push({ cls: 'CONVERGENCE', session: '-', detail: e.message });
      await cluster.waitConverged(30_000).catch(() => {});
    }
    log(`  healed; converged ${convergeMs === null ? 'NOT within 15 s' : `in ${convergeMs} ms`}`);
    counters.stopSending();
    chat.stopSending();
    const laggards = await counters.quiesce(20_000);
    const stalledInfo = [];
    if (laggards.length) {
      // Where each stalled writer is connected and where its session is active.
      const views = await cluster.views();
      const activeOn = (key) => Object.entries(views).filter(([, v]) => v.sessions?.includes(key)).map(([k]) => k).join(',') || 'nowhere';
      const l = laggards.map((w) => `${w.label} on ${w.urls[w.urlIndex % w.urls.length]}${w.open ? '' : ' (closed)'} inflight ${w.inflight} last seq ${w.lastSeq} closes ${w.closes.length} (${w.closes.map((c) => c.code).join(',')}); active on ${activeOn(`counter/${w.id}`)}`);
      laggards.forEach((w, i) => stalledInfo.push({ w, text: l[i] }));
    }
    await delay(500);  // let the last broadcasts reach every chat client
    const deadline = performance.now() + 30_000;
    for (const w of counters.writers) {
      // Every live node at once; each read bounded by 5 s and the deadline.
      const r = await Promise.all(cluster.live().map(async (n) => {
        try {
          return { node: n.name, ...(await readCounterUntil([n.url], w.id, Math.min(deadline, performance.now() + 5000))) };
        } catch (e) {
          return { node: n.name, error: e.message };
        }
      }));
      reads.set(w.id, r);
    }
    for (const { w, text } of stalledInfo) {
      const top = Math.max(0, ...counters.all.filter((c) => c.id === w.id).flatMap((c) => c.seen.map(([, v]) => v)));
      stalled.push(`${text}; acknowledged ${top}, sent ${w.sent}, read ${(reads.get(w.id) ?? []).map((x) => x.value ?? 'error').join('/')}`);
    }
    clearInterval(deadTimer);
    log(`  reads done ${Math.round(performance.now() - healedAt)} ms after healing`);
  } finally {
    counters?.closeAll();
    chat?.closeAll();
    await cluster.stopAll();
  }
  const c = checkCounters({ writers: counters.writers, watchers: counters.watchers, reads });
  const h = checkChat(chat.conns);
  anomalies.push(...c.anomalies, ...h.anomalies);
  const stores = await readStores(bin, cluster.dataDirs());
  const windowOf = (key) => (key.startsWith('chat/') ? plan.perRoom * 2 : plan.window) + 2;
  anomalies.push(...checkJournals(stores, windowOf));
  const operations = counters.sent + chat.sent + [...reads.values()].reduce((s, r) => s + r.length, 0);
  notes.push(`indeterminate: ${c.indeterminate} adds, ${h.indeterminate} says`);
  for (const x of cluster.selfExits) notes.push(`${x.name} exited with status ${x.code} on its own`);
  for (const s of stores) for (const e of s.errors) notes.push(`store of ${s.node}: ${e}`);
  if (anomalies.length || stalled.length) {
    // Keep the evidence: every node's data dir and log (nodes.mjs appends
    // each incarnation's stderr to <dataDir>/<name>.log), and the plan.
    fs.writeFileSync(path.join(dataDir, 'plan.json'), JSON.stringify(plan, null, 1));
    notes.push(`data dirs and node logs kept in ${dataDir}`);
  } else {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return { plan, faults: faultCount, operations, anomalies, notes, convergeMs, stalled };
}
