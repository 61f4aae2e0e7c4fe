#!/usr/bin/env node
// Checkpointing throughput and the latency cost of the output gate.
//
//   node bench/checkpoint_bench.mjs [--seconds 10] [--clients 64] [--window 32]
//                                   [--warmup 1] [--paced-fraction 0.5] [--bin build/bin/skein-demo]
//
// Runs a single node (`skein-demo node`, no --peers) on a fresh temp data dir
// per run, in four configurations: WAL fsync off/on (`--sync`) x
// `counter.durability` local (default: a frame is released once its batch is
// committed) / none (released at once). Each client owns one counter
// (`/ws/counter/bench-<i>`), so every {"value":V} frame it receives is the ack
// of its own oldest outstanding add; latency = add written -> ack received
// (same process clock).
//
// Two phases per configuration:
//  - saturation: every client keeps up to --window adds unacknowledged, as
//    fast as it can. acked adds/s with durability=local are checkpointed
//    inputs/s (an ack is only released after its journal batch committed);
//    with durability=none an ack says nothing about the commit.
//  - paced ("same load"): open-loop at --paced-fraction of the saturation
//    rate of the durability=local run with the same sync setting, for both
//    durabilities, so the two latency distributions are compared at one
//    offered load; "gate added" = local minus none, per percentile.
// The client is one Node.js thread on the same machine as the node: on a
// small box it competes for the CPUs (see nproc below).
//
// Prints one JSON line, then a human-readable table.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { WsClient, wsUrl, makeTempDir, removeDir } from '../tests/cluster/cluster.mjs';
import { startNode } from '../tests/cluster/node.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '64' },
    window: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '1' },
    'paced-fraction': { type: 'string', default: '0.5' },
    bin: { type: 'string' },
  },
});
const seconds = Number(opts.seconds);
const nClients = Number(opts.clients);
const windowSize = Number(opts.window);
const warmup = Number(opts.warmup);
const pacedFraction = Number(opts['paced-fraction']);
if (!(seconds > 0)) throw new Error(`--seconds must be > 0, got ${opts.seconds}`);
if (!Number.isSafeInteger(nClients) || nClients < 1) throw new Error(`--clients must be a positive integer, got ${opts.clients}`);
if (!Number.isSafeInteger(windowSize) || windowSize < 1) throw new Error(`--window must be a positive integer, got ${opts.window}`);
if (!(warmup >= 0)) throw new Error(`--warmup must be >= 0, got ${opts.warmup}`);
if (!(pacedFraction > 0 && pacedFraction <= 1)) throw new Error(`--paced-fraction must be in (0, 1], got ${opts['paced-fraction']}`);
const bin = opts.bin ?? process.env.SKEIN_DEMO ?? path.join(repoRoot, 'build/bin/skein-demo');
if (!fs.existsSync(bin)) throw new Error(`skein-demo not found at ${bin} (use --bin or SKEIN_DEMO)`);

const ADD = JSON.stringify({ op: 'add', by: 1 });
const r3 = (x) => Math.round(x * 1000) / 1000;

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}
function stats(samples) {
  const s = Float64Array.from(samples).sort();
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
  return {
    n: s.length,
    p50: r3(percentile(s, 50)),
    p90: r3(percentile(s, 90)),
    p99: r3(percentile(s, 99)),
    p999: r3(percentile(s, 99.9)),
    max: r3(s.length ? s[s.length - 1] : NaN),
    mean: r3(mean),
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;  // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return os.cpus()[0]?.model ?? 'unknown';
}

/**
 * One run: start a node, connect the clients, drive them for warmup+seconds,
 * stop. mode 'saturation' (window-limited, as fast as possible) or 'paced'
 * (open loop at `rate` adds/s in total, still capped by the window).
 */
async function run({ sync, durability, mode, rate = 0 }) {
  const dataDir = makeTempDir('skein-bench-ckpt-');
  const kindOptions = durability === 'none' ? ['counter.durability=none'] : [];
  let node = null;
  const clients = [];
  try {
    node = await startNode({ bin, dataDir, kindOptions, extraArgs: sync ? ['--sync'] : [] });
    for (let i = 0; i < nClients; i++) {
      clients.push(await WsClient.connect(wsUrl(node.url, `/ws/counter/bench-${i}`), { label: `bench-${i}` }));
    }
    for (const c of clients) {
      const f = await c.next(() => true, 10_000, 'the open frame');
      if (f.data?.value !== 0) throw new Error(`${c.label}: expected {"value":0}, got ${JSON.stringify(f.data)}`);
    }

    const state = clients.map(() => ({ pending: [], sent: 0, acked: 0, lastValue: 0 }));
    const lat = [];
    let measuring = false;
    let stopped = false;
    let acked = 0;          // acks received while measuring
    let sentMeasured = 0;   // adds sent while measuring
    let windowFull = 0;     // paced: sends skipped because the window was full
    let failure = null;

    const send = (i) => {
      const st = state[i];
      st.pending.push(performance.now());
      st.sent++;
      if (measuring) sentMeasured++;
      clients[i].ws.send(ADD);
    };
    clients.forEach((c, i) => {
      c.ws.on('message', () => {
        const st = state[i];
        const f = c.frames.pop();  // WsClient recorded it; keep memory flat
        c.cursor = Math.min(c.cursor, c.frames.length);
        const v = f?.data?.value;
        if (!Number.isSafeInteger(v) || v !== st.lastValue + 1) {
          failure ??= new Error(`${c.label}: expected {"value":${st.lastValue + 1}}, got ${JSON.stringify(f?.data)}`);
          return;
        }
        st.lastValue = v;
        const t0 = st.pending.shift();
        st.acked++;
        if (measuring) {
          acked++;
          lat.push(performance.now() - t0);
        }
        if (mode === 'saturation' && !stopped) send(i);
      });
      c.ws.on('close', () => { if (!stopped) failure ??= new Error(`${c.label} closed during the run: ${c.describe()}`); });
    });

    let ticker = null;
    const start = performance.now();
    if (mode === 'saturation') {
      clients.forEach((_, i) => { for (let k = 0; k < windowSize; k++) send(i); });
    } else {
      // Open loop: every 2 ms, send what the schedule owes, round robin.
      let owed = 0;
      let due = 0;
      let rr = 0;
      let last = start;
      ticker = setInterval(() => {
        const now = performance.now();
        due += ((now - last) / 1000) * rate;
        last = now;
        while (due - owed >= 1) {
          owed++;
          const i = rr++ % nClients;
          if (state[i].pending.length >= windowSize) { if (measuring) windowFull++; continue; }
          send(i);
        }
      }, 2);
    }

    await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
    measuring = true;
    const t0 = performance.now();
    const nodeCpu0 = cpuSeconds(node.pid);
    const selfCpu0 = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const nodeCpu = cpuSeconds(node.pid) - nodeCpu0;
    const selfCpu = process.cpuUsage(selfCpu0);
    stopped = true;
    if (ticker) clearInterval(ticker);
    if (failure) throw failure;
    // Drain: every add sent gets its ack (bounded wait).
    const outstanding = () => state.reduce((a, s) => a + s.pending.length, 0);
    const drainDeadline = performance.now() + 30_000;
    while (outstanding() > 0) {
      if (failure) throw failure;
      if (performance.now() > drainDeadline) throw new Error(`${outstanding()} adds still unacknowledged 30 s after the run`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return {
      sync,
      durability,
      mode,
      offered_per_s: mode === 'paced' ? Math.round(rate) : null,
      acked_per_s: Math.round(acked / elapsed),
      sent_per_s: Math.round(sentMeasured / elapsed),
      window_full_skips: mode === 'paced' ? windowFull : null,
      node_cpu_pct: Math.round((100 * nodeCpu) / elapsed),
      client_cpu_pct: Math.round((selfCpu.user + selfCpu.system) / 1e4 / elapsed),
      latency_ms: stats(lat),
    };
  } finally {
    for (const c of clients) await c.close(2_000).catch(() => {});
    if (node && !node.exitInfo) await node.stop().catch((e) => { console.error(e.message); });
    removeDir(dataDir);
  }
}

const env = {
  nproc: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
  cpu: cpuModel(),
  node: process.version,
  loadavg_at_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
  bin,
  clients: nClients,
  window: windowSize,
  seconds,
  warmup,
  paced_fraction: pacedFraction,
};
console.error(`checkpoint bench: ${nClients} clients x window ${windowSize}, ${seconds} s (+${warmup} s warmup) per run; nproc ${env.nproc}; ${env.cpu}; node ${env.node}`);

const runs = [];
for (const sync of [false, true]) {
  for (const durability of ['local', 'none']) {
    console.error(`  saturation sync=${sync ? 'on' : 'off'} durability=${durability} ...`);
    runs.push(await run({ sync, durability, mode: 'saturation' }));
  }
  const local = runs.find((r) => r.mode === 'saturation' && r.sync === sync && r.durability === 'local');
  const rate = Math.max(1, local.acked_per_s * pacedFraction);
  for (const durability of ['local', 'none']) {
    console.error(`  paced ${Math.round(rate)}/s sync=${sync ? 'on' : 'off'} durability=${durability} ...`);
    runs.push(await run({ sync, durability, mode: 'paced', rate }));
  }
}

const find = (sync, durability, mode) => runs.find((r) => r.sync === sync && r.durability === durability && r.mode === mode);
const gate = {};
for (const sync of [false, true]) {
  const key = sync ? 'sync_on' : 'sync_off';
  gate[key] = {};
  for (const mode of ['paced', 'saturation']) {
    const l = find(sync, 'local', mode).latency_ms;
    const n = find(sync, 'none', mode).latency_ms;
    gate[key][mode] = { p50_ms: r3(l.p50 - n.p50), p99_ms: r3(l.p99 - n.p99) };
  }
}
const summary = {
  bench: 'checkpoint',
  ...env,
  checkpointed_inputs_per_s: {
    sync_off: find(false, 'local', 'saturation').acked_per_s,
    sync_on: find(true, 'local', 'saturation').acked_per_s,
  },
  gate_added_latency: gate,
  runs,
};
console.log(JSON.stringify(summary));

const pad = (s, n) => String(s).padEnd(n);
const padl = (s, n) => String(s).padStart(n);
console.log('');
console.log(`nproc ${env.nproc} | CPU ${env.cpu} | node ${env.node} | loadavg at start ${env.loadavg_at_start.join(' ')} | ${nClients} clients, window ${windowSize}, ${seconds} s per run`);
console.log(`checkpointed inputs/s (durability=local, saturation): sync off ${summary.checkpointed_inputs_per_s.sync_off}, sync on ${summary.checkpointed_inputs_per_s.sync_on}`);
console.log('');
console.log(`${pad('sync', 5)}${pad('durability', 11)}${pad('mode', 11)}${padl('offered/s', 10)}${padl('acked/s', 9)}${padl('p50 ms', 9)}${padl('p90 ms', 9)}${padl('p99 ms', 9)}${padl('p99.9', 9)}${padl('max ms', 9)}${padl('node cpu', 10)}${padl('client cpu', 12)}`);
for (const r of runs) {
  const l = r.latency_ms;
  console.log(`${pad(r.sync ? 'on' : 'off', 5)}${pad(r.durability, 11)}${pad(r.mode, 11)}${padl(r.offered_per_s ?? '-', 10)}${padl(r.acked_per_s, 9)}${padl(l.p50, 9)}${padl(l.p90, 9)}${padl(l.p99, 9)}${padl(l.p999, 9)}${padl(l.max, 9)}${padl(`${r.node_cpu_pct}%`, 10)}${padl(`${r.client_cpu_pct}%`, 12)}`);
}
console.log('');
for (const sync of [false, true]) {
  const g = gate[sync ? 'sync_on' : 'sync_off'];
  console.log(`output gate added latency, sync ${sync ? 'on ' : 'off'}: at the same offered load p50 ${g.paced.p50_ms} ms, p99 ${g.paced.p99_ms} ms; at saturation p50 ${g.saturation.p50_ms} ms, p99 ${g.saturation.p99_ms} ms`);
}
