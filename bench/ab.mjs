#!/usr/bin/env node
// A lever measured the way docs/benchmarks.md's "alternating rounds" are:
// each round starts a fresh `skein-demo launch` per arm, in turn, and runs
// skein-loadgen's rtt on it, so that this shared machine's drift falls on
// every arm alike. Prints one line per run as it goes and, at the end, a
// markdown table: per arm and level the msg/s of every round and their mean,
// the mean p50 / p99, and the server CPU µs per message; then, with two
// arms or more and two rounds or more, each arm against the first, paired
// by round, as a ratio with its 95 % interval.
//
//   node bench/ab.mjs --arm 'base=' --arm 'nocomp=--rocksdb-options compression=kNoCompression'
//                     [--rounds 3] [--levels 100,1000] [--warmup 3] [--duration 15]
//                     [--nodes 3] [--build-dir build] [--json FILE] [--thread-costs SECONDS]
//                     [--rate MSG_S]
//
// An arm is NAME=ARGS: ARGS are extra `skein-demo launch` arguments, split
// on spaces (no quoting); words NAME=VALUE with an upper-case NAME are set
// in that arm's environment instead (e.g. 'fmt1=SKEIN_LANE_BUNDLE_FORMAT=1';
// 'old=SKEIN_AB_BIN=/tmp/old-bin' runs that arm's skein-demo from a saved
// build directory's bin/, to compare two builds),
// and an environment variable set for the whole run reaches every arm's
// nodes. Every launch gets `--max-message-rate 0`, as
// bench/run's do. One benchmark at a time on this machine: the arms share
// the cores with the load generator and with each other's leftovers.
//
// --thread-costs S (one level only) also runs bench/thread-costs.mjs for S
// seconds in each run, starting 2 s after the warm-up, and prints a second
// table: CPU µs per message by kind of thread, mean over the rounds. A
// lever on one thread (the committer's RocksDB writes) shows there when
// msg/s, which moves by tens of percent between rounds here, cannot.
//
// --rate MSG_S runs skein-loadgen's paced scenario (open loop) instead of
// rtt: --levels is then one pair count, offered MSG_S in all; every arm
// gets the same load, so its CPU µs per message and its latency compare at
// equal msg/s.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    arm: { type: 'string', multiple: true, default: [] },
    rounds: { type: 'string', default: '3' },
    levels: { type: 'string', default: '100,1000' },
    warmup: { type: 'string', default: '3' },
    duration: { type: 'string', default: '15' },
    nodes: { type: 'string', default: '3' },
    'build-dir': { type: 'string', default: 'build' },
    json: { type: 'string' },
    'thread-costs': { type: 'string' },
    rate: { type: 'string' },
  },
});
const arms = opts.arm.map((a) => {
  const eq = a.indexOf('=');
  if (eq <= 0) throw new Error(`--arm ${a}: expected NAME=ARGS`);
  return { name: a.slice(0, eq), args: a.slice(eq + 1).split(/\s+/).filter(Boolean) };
});
if (arms.length === 0) throw new Error('give at least one --arm NAME=ARGS');
const bin = path.resolve(repo, opts['build-dir'], 'bin');
const rounds = Number(opts.rounds);
const costSeconds = opts['thread-costs'] === undefined ? 0 : Number(opts['thread-costs']);
if (costSeconds > 0 && opts.levels.includes(',')) throw new Error('--thread-costs needs one level');
if (opts.rate && opts.levels.includes(',')) throw new Error('--rate needs one level (the pairs)');
if (costSeconds > 0 && costSeconds + 2 > Number(opts.duration))
  throw new Error('--thread-costs S needs S + 2 <= --duration');

/// Starts a cluster; resolves with {child, urls, pids} once launch says ready.
function launch(args, data) {
  // NAME=VALUE words with an upper-case NAME set the arm's environment.
  const env = { ...process.env };
  const flags = args.filter((a) => {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(a);
    if (m) env[m[1]] = m[2];
    return !m;
  });
  // SKEIN_AB_BIN=DIR runs this arm's skein-demo from DIR (a saved build of
  // another commit), so two builds alternate in one series.
  const demoDir = env.SKEIN_AB_BIN ? path.resolve(env.SKEIN_AB_BIN) : bin;
  const child = spawn(path.join(demoDir, 'skein-demo'),
    ['launch', '--nodes', opts.nodes, '--data', data, '--max-message-rate', '0', ...flags],
    { stdio: ['ignore', 'pipe', 'ignore'], env });
  return new Promise((resolve, reject) => {
    const urls = new Map();
    let buf = '';
    const timer = setTimeout(() => reject(new Error('launch: not ready in 90 s')), 90000);
    child.on('exit', (c, s) => reject(new Error(`launch exited (${s ?? c}) before it was ready`)));
    child.stdout.on('data', (d) => {
      buf += d;
      for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) {
        const line = buf.slice(0, nl);
        if (line.startsWith('node ')) urls.set(line.split(' ')[1], line.split(' ')[2]);
        if (line !== 'ready') continue;
        clearTimeout(timer);
        const kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')
          .trim().split(/\s+/).map(Number);
        resolve({ child, urls: [...urls.values()], pids: kids });
      }
    });
  });
}

function loadgen(cluster) {
  const load = opts.rate ? ['--scenario', 'paced', '--pairs', opts.levels, '--rates', opts.rate, '--p99-limit-ms', '0']
    : ['--scenario', 'rtt', '--levels', opts.levels];
  const args = ['--proto', 'skein', '--urls', cluster.urls.join(','), '--pids', cluster.pids.join(','),
    ...load, '--warmup', opts.warmup, '--duration', opts.duration];
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(bin, 'skein-loadgen'), args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`skein-loadgen exited with ${signal ?? code}`));
      resolve(out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
        .filter((j) => j.type === 'rtt' || j.type === 'paced'));
    });
  });
}

/// bench/thread-costs.mjs's --json object for the cluster, sampled for
/// costSeconds from (warm-up + 2) s on.
async function threadCosts(cluster) {
  await new Promise((r) => setTimeout(r, (Number(opts.warmup) + 2) * 1000));
  const child = spawn(process.execPath, [path.join(repo, 'bench', 'thread-costs.mjs'),
    '--pids', cluster.pids.join(','), '--urls', cluster.urls.join(','), '--seconds', String(costSeconds),
    '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const code = await new Promise((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`thread-costs.mjs exited with ${code}`);
  return JSON.parse(out);
}

async function stop(child) {
  if (child.exitCode !== null) return;
  child.removeAllListeners('exit');  // launch()'s "exited before ready"
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 15000);
  await exited;
  clearTimeout(t);
}

const runs = [];
const profiles = [];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-ab-'));
for (let r = 1; r <= rounds; ++r) {
  for (const arm of arms) {
    const data = path.join(work, `${arm.name}-${r}`);
    const cluster = await launch(arm.args, data);
    try {
      const [results, costs] = await Promise.all([loadgen(cluster),
        costSeconds > 0 ? threadCosts(cluster) : Promise.resolve(null)]);
      if (costs) {
        costs.round = r;
        costs.arm = arm.name;
        profiles.push(costs);
        console.error(`round ${r} ${arm.name}: ${costs.total.cpu_us} µs/msg over ${costs.messages} messages (` +
          costs.threads.map((t) => `${t.kind} ${t.cpu_us}`).join(', ') + ')');
      }
      for (const j of results) {
        const row = { round: r, arm: arm.name, pairs: j.pairs, rate: j.rate, p50: j.latency_ms.p50,
          p99: j.latency_ms.p99, cpu_us: (j.server_cpu_pct * 1e4) / j.rate, lost: j.lost + j.errors,
          at: new Date().toISOString() };
        runs.push(row);
        console.error(`round ${r} ${arm.name} ${row.pairs} pairs: ${Math.round(row.rate)} msg/s, ` +
          `p50 ${row.p50} p99 ${row.p99} ms, ${row.cpu_us.toFixed(1)} µs/msg, lost ${row.lost}`);
      }
    } finally {
      await stop(cluster.child);
      fs.rmSync(data, { recursive: true, force: true });
    }
  }
}
fs.rmSync(work, { recursive: true, force: true });

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x) => Math.round(x).toLocaleString('en-US');
const levels = [...new Set(runs.map((x) => x.pairs))];
console.log(`| arm | pairs | msg/s per round | mean msg/s | p50 / p99 ms (means) | server µs per message (mean) | lost |`);
console.log(`|---|---:|---|---:|---|---:|---:|`);
for (const pairs of levels) {
  for (const arm of arms) {
    const xs = runs.filter((x) => x.arm === arm.name && x.pairs === pairs);
    if (xs.length === 0) continue;
    console.log(`| ${arm.name} | ${pairs} | ${xs.map((x) => fmt(x.rate)).join(' / ')} | ${fmt(mean(xs.map((x) => x.rate)))} | ` +
      `${mean(xs.map((x) => x.p50)).toFixed(2)} / ${mean(xs.map((x) => x.p99)).toFixed(1)} | ` +
      `${mean(xs.map((x) => x.cpu_us)).toFixed(1)} | ${xs.reduce((a, x) => a + x.lost, 0)} |`);
  }
}
if (profiles.length > 0) {
  const kinds = [...new Set(profiles.flatMap((p) => p.threads.map((t) => t.kind)))];
  console.log('');
  console.log(`| arm | ${kinds.join(' | ')} | all threads |`);
  console.log(`|---|${kinds.map(() => '---:').join('|')}|---:|`);
  for (const arm of arms) {
    const ps = profiles.filter((p) => p.arm === arm.name);
    if (ps.length === 0) continue;
    const of = (kind) => mean(ps.map((p) => p.threads.find((t) => t.kind === kind)?.cpu_us ?? 0));
    console.log(`| ${arm.name} | ${kinds.map((k) => of(k).toFixed(1)).join(' | ')} | ` +
      `${mean(ps.map((p) => p.total.cpu_us)).toFixed(1)} |`);
  }
}
// Each arm against the first, round by round: a round's arms run minutes
// apart, so the ratio within a round cancels most of the machine's drift
// between rounds. The geometric mean of the per-round ratios, with a 95 %
// interval from Student's t over their logarithms (an interval that
// contains 1.00 says the rounds do not tell the arms apart).
const t95 = [12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];  // df 1..10
function pairedRatio(a, b) {
  const logs = a.map((x, i) => Math.log(x / b[i]));
  const n = logs.length;
  const m = mean(logs);
  if (n < 2) return `${Math.exp(m).toFixed(3)}×`;
  const sd = Math.sqrt(logs.reduce((acc, x) => acc + (x - m) ** 2, 0) / (n - 1));
  const half = (t95[n - 2] ?? 1.96) * sd / Math.sqrt(n);
  return `${Math.exp(m).toFixed(3)}× (${Math.exp(m - half).toFixed(3)}–${Math.exp(m + half).toFixed(3)})`;
}
if (arms.length > 1 && rounds > 1) {
  console.log('');
  console.log(`| arm | pairs | rounds | msg/s against ${arms[0].name}, per round (95 % interval) | server µs per message against ${arms[0].name} (95 % interval) |`);
  console.log('|---|---:|---:|---|---|');
  for (const pairs of levels) {
    const first = runs.filter((x) => x.arm === arms[0].name && x.pairs === pairs);
    for (const arm of arms.slice(1)) {
      const both = first.map((f) => [runs.find((x) => x.arm === arm.name && x.pairs === pairs
                                                       && x.round === f.round), f])
        .filter(([x]) => x);
      if (both.length === 0) continue;
      console.log(`| ${arm.name} | ${pairs} | ${both.length} | ` +
        `${pairedRatio(both.map(([x]) => x.rate), both.map(([, f]) => f.rate))} | ` +
        `${pairedRatio(both.map(([x]) => x.cpu_us), both.map(([, f]) => f.cpu_us))} |`);
    }
  }
}
if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify({ arms, opts, runs, profiles }, null, 1)}\n`);
