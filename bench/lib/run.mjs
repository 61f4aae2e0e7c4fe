#!/usr/bin/env node
// Drives the benchmark suite: for every scenario, starts skein (3 nodes via
// `skein-demo launch`) and then the Socket.IO peer (redis-server + 3 Node
// processes), puts the same load on each with skein-loadgen, and writes
// docs/bench/results.json, docs/benchmarks.md and the PNG plots.
//
// Called by bench/run (which installs and builds first):
//   node bench/lib/run.mjs [--quick|--full] [--build-dir build] [--only rtt,fanout,...]
//                          [--systems skein,skein-none,socketio] [--out docs] [--repeat N] [--threads N]
//                          [--skein-args="ARGS"] [--skein-preload LIB]
// Systems: skein (the demo's defaults: chat durability=replicated), skein-none,
// skein-async and skein-local (chat durability none / async / local; none
// writes nothing, async writes behind the frames), socketio, socketio-durable
// (the peer with the redis streams adapter, connection state recovery and
// redis appendonly everysec: launch.js --durable) and ceiling
// (skein-bench-ceiling: one process, one Beast io thread, no actors, no
// persistence; it has no cluster, so failover and migrate skip it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { writeReport } from './report.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    'build-dir': { type: 'string', default: 'build' },
    only: { type: 'string' },
    // default: skein,skein-none,socketio (--quick); every system (--full)
    systems: { type: 'string' },
    out: { type: 'string', default: 'docs' },
    threads: { type: 'string', default: '2' },
    repeat: { type: 'string' },
    // the perf profile of a skein node during rtt: default on with --full only
    profile: { type: 'boolean' },
    // Extra `skein-demo launch` arguments for every skein system (a lever to
    // measure, e.g. --skein-args="--scheduler-threads 2"); recorded in results.json.
    'skein-args': { type: 'string', default: '' },
    // A malloc to LD_PRELOAD into the skein nodes only (a lever to measure).
    'skein-preload': { type: 'string', default: '' },
    // paced: the msg/s its fractions are of (default: the peer's rtt peak in
    // this run, else on the page, docs/bench/results.json).
    'paced-base': { type: 'string' },
    // paced: the fractions of the base to offer (default: the profile's)
    'paced-fractions': { type: 'string' },
  },
});
const mode = opts.full ? 'full' : 'quick';
const buildDir = path.resolve(repo, opts['build-dir']);
const demo = path.join(buildDir, 'bin/skein-demo');
const loadgen = path.join(buildDir, 'bin/skein-loadgen');
const ceiling = path.join(buildDir, 'bin/skein-bench-ceiling');
const kernelCosts = path.join(buildDir, 'bin/skein-kernel-costs');
const outDir = path.resolve(repo, opts.out);
const plotDir = path.join(outDir, 'bench');
const threads = Number(opts.threads);

// Every size and duration of both modes. --quick stays under 5 minutes,
// --full about 60 (five systems; 80 with all seven, 2026-12-06), on 2 cores with the load generator sharing them.
const PROFILES = {
  quick: {
    rtt: { levels: [1, 10, 100, 1000], warmup: 1, duration: 3 },
    // paced: rtt's open-loop form at fixed offered rates, fractions of the
    // peer's rtt peak (this run's, else the page's); not in --quick's
    // default scenarios (it would pass 5 minutes), runs with --only paced.
    paced: { pairs: [1000], fractions: [0.75, 1.0, 1.5, 2.0], warmup: 1, duration: 3, msgTimeout: 5, p99LimitMs: 50 },
    fanout: { subscribers: 1000, rates: [5, 10, 15, 20, 30, 40, 50, 70, 100, 150, 200, 300, 500, 1000], step: 2.5, stepWarmup: 0.5, minMessages: 20 },
    // kindOptions: skein systems run the scenario with these kind options.
    // Issue 15 measures idle memory after the sessions' idle time has
    // passed and lets the bench set a short one: every session hibernates
    // soon after its client joined, before the measure (report.mjs says
    // so); --quick waits only 5 s after the last connect, so 1 s there.
    // --full keeps 3 s although the demo's default is 30 s since stop 58:
    // with 30 s every session of the 50,000 is in memory at once before
    // it hibernates, and jemalloc cannot return the pages they free among
    // the connections' live allocations (8.45 KiB per connection 35 s
    // after the last connect, 8.08 after 70 s; docs/benchmarks.md).
    idle: { conns: 8000, settle: 5, kindOptions: ['chat.hibernate_ms=1000'] },
    held1: { nodes: 1, conns: 5000, settle: 5 },
    held6: { nodes: 6, conns: 12000, settle: 5 },
    failover: { pairs: 50, duration: 14, at: 4, msgTimeout: 1 },
    migrate: { pairs: 50, duration: 16, joinAt: 3, drainAt: 9, msgTimeout: 1 },
  },
  full: {
    rtt: { levels: [1, 10, 100, 1000, 4000], warmup: 2, duration: 10, repeat: 2 },
    // Issue 15's "p99 at the peer's peak rate", read as it says: every
    // system offered the same msg/s (fractions of the peer's rtt peak in
    // this run), latency from when each message was due; and above it, each
    // system's open-loop capacity: the highest rate carried (nothing lost,
    // 99 % delivered) with p99 <= 50 ms. A system stops at its first
    // broken rate.
    paced: { pairs: [100, 1000], fractions: [0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5], warmup: 2, duration: 8, msgTimeout: 5, p99LimitMs: 50 },
    fanout: { subscribers: 1000, rates: [5, 10, 15, 20, 30, 40, 50, 60, 70, 85, 100, 120, 140, 170, 200, 240, 300, 400, 500, 700, 1000, 1500, 2000], step: 5, stepWarmup: 1, minMessages: 50, repeat: 3 },
    idle: { conns: 50000, settle: 15, kindOptions: ['chat.hibernate_ms=3000'] },
    // Issue 15's connection targets: 19,000 idle WebSockets on one node (a
    // process may hold 20,000 descriptors here) and 100,000 on 6 nodes.
    held1: { nodes: 1, conns: 19000, settle: 10 },
    held6: { nodes: 6, conns: 100000, settle: 10 },
    failover: { pairs: 200, duration: 25, at: 8, msgTimeout: 2 },
    migrate: { pairs: 200, duration: 30, joinAt: 5, drainAt: 15, msgTimeout: 2 },
  },
};
const profile = PROFILES[mode];
const SCENARIOS = ['rtt', 'paced', 'fanout', 'idle', 'failover', 'migrate', 'held1', 'held6'];
// --quick leaves out the connection counts (held1, held6) and paced to stay under 5 minutes.
const scenarios = opts.only ? opts.only.split(',') : SCENARIOS.filter((s) => mode === 'full' || !(s.startsWith('held') || s === 'paced'));
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
const DEFAULT_SYSTEMS = {
  quick: 'skein,skein-none,socketio',
  full: 'skein,skein-none,socketio,socketio-durable,ceiling',
};
const systemNames = (opts.systems ?? DEFAULT_SYSTEMS[mode]).split(',');

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-bench-'));
const logDir = path.join(workDir, 'logs');
fs.mkdirSync(logDir);
const children = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);

function cleanup() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });

// --- /proc ---------------------------------------------------------------

const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);

function procSample(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { pid, alive: f[0] !== 'Z', cpu_s: (Number(f[11]) + Number(f[12])) / TICKS, rss_kb: rss };
  } catch {
    return { pid, alive: false, cpu_s: 0, rss_kb: 0 };
  }
}

/// What the kernel charges here (bench/kernel/kernel_costs.cpp), measured
/// before any system starts; null when the tool was not built.
function kernelPrices() {
  if (!fs.existsSync(kernelCosts)) return null;
  const r = spawnSync(kernelCosts, ['--seconds', '1', '--json'], { encoding: 'utf8', timeout: 30000 });
  try {
    return r.status === 0 ? JSON.parse(r.stdout) : null;
  } catch {
    return null;
  }
}

function machine() {
  const cpu = os.cpus();
  const mem = fs.readFileSync('/proc/meminfo', 'utf8');
  const kb = Number(/MemTotal:\s+(\d+)/.exec(mem)?.[1] ?? 0);
  const model = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? cpu[0]?.model;
  const redis = spawnSync('redis-server', ['--version']).stdout?.toString().match(/v=(\S+)/)?.[1];
  const sio = JSON.parse(fs.readFileSync(path.join(repo, 'bench/peers/socketio/package.json'), 'utf8')).dependencies;
  return {
    nproc: Number(spawnSync('nproc').stdout.toString().trim()),
    cpu: model,
    ram_gib: Math.round(kb / 1024 / 1024 * 10) / 10,
    kernel: os.release(),
    node: process.version,
    redis: redis ?? 'unknown',
    socketio: sio['socket.io'],
    redis_adapter: sio['@socket.io/redis-adapter'],
    redis_streams_adapter: sio['@socket.io/redis-streams-adapter'],
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    ulimit_n: Number(spawnSync('sh', ['-c', 'ulimit -n']).stdout.toString().trim()),
    kernel_costs: kernelPrices(),
    commit: process.env.BENCH_COMMIT || spawnSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']).stdout?.toString().trim() || 'unknown',
  };
}

// --- processes -------------------------------------------------------------

function track(child, name) {
  children.add(child);
  const logFile = fs.createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
  child.stderr?.pipe(logFile);
  child.on('exit', () => children.delete(child));
  return child;
}

/// Resolves with the stdout lines of `child` up to and including the one
/// `done` accepts; rejects when the child exits first or on timeout.
function readUntil(child, done, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const lines = [];
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no answer in ${timeoutMs} ms`)), timeoutMs);
    const onData = (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (done(line)) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          child.off('exit', onExit);
          resolve(lines);
          return;
        }
      }
    };
    const onExit = (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${sig ?? code}) before it was ready`));
    };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

async function stopChild(child, graceMs = 15000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

const skeinArgs = opts['skein-args'].split(/\s+/).filter(Boolean);

/// skein as 3 nodes of `skein-demo launch`, with `extra` launch arguments.
function skeinSystem(label, extra, { held = true } = {}) {
  return {
    label,
    skip: (scenario) => (scenario.startsWith('held') && !held ? HELD_ONLY
      : QUICK_SKIPS_NONE.includes(scenario) && mode === 'quick' && extra.some((a) => a.endsWith('durability=none'))
        ? 'skein-none runs failover and migrate with --full only (--quick stays under 5 minutes)' : null),
    proto: 'skein',
    binary: demo,
    async start(tag, { nodes: count = 3, kindOptions = [] } = {}) {
      const data = path.join(workDir, `data-${tag}`);
      // --max-connections: the idle scenario puts 50,000 / 3 = 16,667 streams
      // on a node, above launch's default cap of 16,384 (a process here may
      // hold 20,000 descriptors).
      // (held1 puts 19,000 on one node: the cap leaves room for them.)
      // --max-message-rate 0: the per-client rate limit (1,000 msg/s, a
      // protection against one abusive client) is off, as the peers have
      // none: at one rtt pair each client says some 2,000-2,500 times a
      // second, and the limit closed its stream (1008) three or four times
      // in 20 s; each refused message then counted as lost after 5 s.
      const args = ['launch', '--nodes', String(count), '--data', data, '--max-connections', '19500',
        '--max-message-rate', '0', ...extra,
        ...kindOptions.flatMap((o) => ['--kind-option', o]), ...skeinArgs];
      const env = opts['skein-preload'] ? { ...process.env, LD_PRELOAD: opts['skein-preload'] } : process.env;
      const child = track(spawn(demo, args, { stdio: ['ignore', 'pipe', 'pipe'], env }), `skein-${tag}`);
      const lines = await readUntil(child, (l) => l === 'ready', 90000, 'skein-demo launch');
      const nodes = lines.filter((l) => l.startsWith('node ')).map((l) => {
        const [, name, url] = l.split(' ');
        return { name, url };
      });
      const kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
      for (const pid of kids) {
        const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        const name = argv[argv.indexOf('--name') + 1];
        const n = nodes.find((x) => x.name === name);
        if (n) n.pid = pid;
      }
      if (nodes.some((n) => !n.pid)) throw new Error('cannot find the node processes of skein-demo launch');
      return {
        urls: nodes.map((n) => n.url),
        procs: nodes.map((n) => ({ name: n.name, pid: n.pid })),
        nodes,
        data,
        stop: () => stopChild(child),
      };
    },
  };
}

/// The Socket.IO peer: redis-server + 3 Node processes (launch.js), with
/// `extra` launch.js arguments.
function socketioSystem(label, extra) {
  return {
    label,
    proto: 'socketio',
    skip: (scenario) => (scenario === 'migrate' ? 'no live migration in Socket.IO'
      : scenario.startsWith('held') && extra.length ? HELD_ONLY : null),
    async start(tag, { nodes: count = 3 } = {}) {
      const child = track(spawn(process.execPath, [path.join(repo, 'bench/peers/socketio/launch.js'), '--nodes', String(count), ...extra],
        { stdio: ['ignore', 'pipe', 'pipe'] }), `socketio-${tag}`);
      const lines = await readUntil(child, (l) => l === 'ready', 60000, 'socket.io launch');
      const nodes = [];
      const procs = [];
      for (const l of lines) {
        const [kind, a, b, c] = l.split(' ');
        if (kind === 'redis') procs.push({ name: 'redis', pid: Number(b) });
        if (kind === 'node') {
          nodes.push({ name: a, url: b, pid: Number(c) });
          procs.push({ name: a, pid: Number(c) });
        }
      }
      return { urls: nodes.map((n) => n.url), procs, nodes, stop: () => stopChild(child) };
    },
  };
}

const ONE_PROCESS = 'the ceiling is one process with no cluster';
const QUICK_SKIPS_NONE = ['failover', 'migrate'];
// The connection counts take minutes per system: skein, skein-none and the
// plain peer only.
const HELD_ONLY = 'connection counts (held1, held6) are measured for skein, skein-none and socketio only';

const SYSTEMS = {
  skein: skeinSystem('skein', []),
  'skein-none': skeinSystem('skein, durability none', ['--kind-option', 'chat.durability=none']),
  'skein-async': skeinSystem('skein, durability async', ['--kind-option', 'chat.durability=async'], { held: false }),
  'skein-local': skeinSystem('skein, durability local', ['--kind-option', 'chat.durability=local'], { held: false }),
  socketio: socketioSystem('Socket.IO', []),
  'socketio-durable': socketioSystem('Socket.IO, redis streams adapter + connection state recovery, redis AOF', ['--durable']),
  ceiling: {
    label: 'ceiling (one Beast io thread, no actors, no persistence)',
    proto: 'skein',
    binary: ceiling,
    // One process holds at most ulimit -n (20,000 here) descriptors: the
    // idle scenario asks it for fewer connections when it would need more.
    maxConns: 18000,
    skip: (scenario) => ({
      failover: `${ONE_PROCESS}: no node to fail over to`,
      migrate: `${ONE_PROCESS}: no node to migrate to`,
      held1: HELD_ONLY,
      held6: HELD_ONLY,
    })[scenario] ?? null,
    async start(tag) {
      const child = track(spawn(ceiling, ['--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] }), `ceiling-${tag}`);
      const lines = await readUntil(child, (l) => l === 'ready', 30000, 'skein-bench-ceiling');
      const nodes = lines.filter((l) => l.startsWith('node ')).map((l) => {
        const [, name, url] = l.split(' ');
        return { name, url, pid: child.pid };
      });
      if (nodes.length !== 1) throw new Error('skein-bench-ceiling did not print its `node` line');
      return { urls: nodes.map((n) => n.url), procs: [{ name: 'ceiling', pid: child.pid }], nodes, stop: () => stopChild(child) };
    },
  },
};

/// Runs skein-loadgen; resolves with its JSON lines. `onLine` sees each.
function runLoadgen(args, name, { onLine, timeoutMs = 600000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(loadgen, args, { stdio: ['ignore', 'pipe', 'pipe'] }), name);
    const out = [];
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        try {
          const j = JSON.parse(line);
          out.push(j);
          onLine?.(j, child);
        } catch {
          log(`${name}: ${line}`);
        }
      }
    });
    const timer = setTimeout(() => { log(`${name}: timed out, killing it`); child.kill('SIGKILL'); }, timeoutMs);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${name} exited with ${sig ?? code}; see ${logDir}/${name}.log`));
    });
    child.on('error', reject);
  });
}

const isSkein = (sys) => sys.startsWith('skein');
const common = (sys, cluster, nThreads = threads) => [
  '--proto', SYSTEMS[sys].proto,
  '--urls', cluster.urls.join(','),
  '--pids', cluster.procs.map((p) => p.pid).join(','),
  '--threads', String(nThreads),
];

// skein clients in failover and migrate send with message ids and re-send
// what was not acknowledged after a reconnect, as @skein/client does
// (SKEIN_BENCH_IDS=0: without ids, as a bare WebSocket client would; a
// message its node closes the connection on before accepting it is lost).
const withIds = (sys) => (isSkein(sys) && process.env.SKEIN_BENCH_IDS !== '0' ? ['--ids'] : []);

// --- control commands of issue 4 (membership, migration) -------------------

function skeinControls() {
  // CLI11 answers `--help` for an unknown subcommand with the top-level help
  // and exit 0, so look at what the help says, not only at the exit code.
  const r = spawnSync(demo, ['ctl', '--help'], { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const ctl = r.status === 0 && /Usage:.*\bctl\b/.test(text) && /drain/.test(text);
  const launchHelp = spawnSync(demo, ['launch', '--help'], { encoding: 'utf8' });
  return {
    ctl,
    addNodeCtl: ctl && /add-node/.test(text),
    addNodeLaunch: /--add-node/.test(`${launchHelp.stdout ?? ''}`),
  };
}

// --- scenarios ----------------------------------------------------------------

async function held(sys, cluster, tag, p) {
  const r = await idleOnce(sys, cluster, tag, p.conns, 0, p.settle);
  return { ...r, nodes: cluster.nodes.length, held: r.still_connected >= p.conns && r.failed === 0 };
}

async function idleOnce(sys, cluster, tag, conns, rooms, settle = profile.idle.settle) {
  await sleep(2000);
  const before = cluster.procs.map((x) => procSample(x.pid));
  const perProc = 16000;
  const nproc = Math.ceil(conns / perProc);
  const connected = [];
  let release;
  const allConnected = new Promise((r) => { release = r; });
  const t0 = Date.now();
  const runs = [];
  for (let k = 0; k < nproc; k++) {
    const n = Math.min(perProc, conns - k * perProc);
    runs.push(runLoadgen([...common(sys, cluster, 1), '--scenario', 'idle', '--tag', tag,
      '--conns', String(n), '--rooms', String(rooms), '--id-offset', String(k * perProc), '--src-first', String(2 + k * 16), '--src-count', '16',
      '--connect-concurrency', '128', '--connect-timeout', '300', '--hold', '900'], `loadgen-${tag}-${k}`, {
      onLine: (j, child) => {
        if (j.type === 'connected') {
          connected.push({ ...j, child });
          if (connected.length === nproc) release();
        }
      },
    }));
  }
  await Promise.race([allConnected, Promise.all(runs)]);
  const connectS = (Date.now() - t0) / 1000;
  const total = connected.reduce((s, j) => s + j.clients, 0);
  const failed = connected.reduce((s, j) => s + j.failed, 0);
  await sleep(settle * 1000);
  const mid = cluster.procs.map((x) => procSample(x.pid));
  const tMid = Date.now();
  await sleep(3000);
  const after = cluster.procs.map((x) => procSample(x.pid));
  const idleCpu = after.reduce((s, a, i) => s + (a.cpu_s - mid[i].cpu_s), 0) / ((Date.now() - tMid) / 1000) * 100;
  for (const c of connected) c.child.kill('SIGTERM');
  const held = (await Promise.all(runs)).flat().filter((l) => l.type === 'held');
  const rssBefore = before.reduce((s, x) => s + x.rss_kb, 0);
  const rssAfter = after.reduce((s, x) => s + x.rss_kb, 0);
  return {
    conns,
    rooms: rooms || conns,
    connected: total,
    failed,
    connect_failures: connected.reduce((s, j) => s + (j.connect_failures ?? 0), 0),
    still_connected: held.reduce((s, j) => s + j.clients, 0),
    connect_s: Math.round(connectS * 10) / 10,
    connects_per_s: Math.round(total / connectS),
    rss_before_kb: rssBefore,
    rss_after_kb: rssAfter,
    per_conn_kib: total ? Math.round((rssAfter - rssBefore) / total * 100) / 100 : null,
    idle_cpu_pct: Math.round(idleCpu * 10) / 10,
    servers: cluster.procs.map((x, i) => ({ ...x, rss_before_kb: before[i].rss_kb, rss_after_kb: after[i].rss_kb })),
  };
}

/// What paced's fractions multiply: --paced-base, else the peer's (socketio)
/// rtt peak in this run, else the one on the page.
function pacedBase(results) {
  if (opts['paced-base']) return { rate: Number(opts['paced-base']), from: '--paced-base' };
  const here = results.systems.socketio?.rtt?.levels;
  if (here?.length) return { rate: Math.max(...here.map((l) => l.rate)), from: 'the peer\'s rtt peak in this run' };
  const page = path.join(repo, 'docs/bench/results.json');
  try {
    const r = JSON.parse(fs.readFileSync(page, 'utf8'));
    const lv = r.systems.socketio.rtt.levels;
    return { rate: Math.max(...lv.map((l) => l.rate)), from: `the peer's rtt peak on the page (docs/bench/results.json, ${r.machine?.date ?? 'undated'})` };
  } catch {
    throw new Error('paced needs the peer\'s rtt peak: run rtt with socketio first, or give --paced-base');
  }
}
let pacedRate = null;

const RUN = {
  /// rtt's open-loop form: per pair count, every offered rate in turn.
  async paced(sys, cluster, tag) {
    const p = profile.paced;
    const fractions = opts['paced-fractions'] ? opts['paced-fractions'].split(',').map(Number) : p.fractions;
    const rates = fractions.map((f) => Math.round(f * pacedRate.rate));
    const runs = [];
    for (const pairs of p.pairs) {
      const lines = await runLoadgen([...common(sys, cluster), '--scenario', 'paced', '--tag', `${tag}p${pairs}`,
        '--pairs', String(pairs), '--rates', rates.join(','), '--warmup', String(p.warmup), '--duration', String(p.duration),
        '--msg-timeout', String(p.msgTimeout), '--p99-limit-ms', String(p.p99LimitMs ?? 0), '--stop-when-broken'],
        `loadgen-${tag}-p${pairs}`);
      const levels = lines.filter((l) => l.type === 'paced');
      levels.forEach((l, i) => { l.fraction = fractions[i]; });
      runs.push({ pairs, connect: lines.find((l) => l.type === 'connected'), levels });
    }
    return { base: pacedRate, fractions, runs };
  },

  async rtt(sys, cluster, tag) {
    const p = profile.rtt;
    const lines = await runLoadgen([...common(sys, cluster), '--scenario', 'rtt', '--tag', tag,
      '--levels', p.levels.join(','), '--warmup', String(p.warmup), '--duration', String(p.duration)], `loadgen-${tag}`);
    return { levels: lines.filter((l) => l.type === 'rtt'), connect: lines.find((l) => l.type === 'connected') };
  },

  async fanout(sys, cluster, tag) {
    const p = profile.fanout;
    const lines = await runLoadgen([...common(sys, cluster), '--scenario', 'fanout', '--tag', tag,
      '--subscribers', String(p.subscribers), '--rates', p.rates.join(','), '--step', String(p.step),
      '--step-warmup', String(p.stepWarmup), '--min-messages', String(p.minMessages ?? 50), '--p99-limit-ms', '50'], `loadgen-${tag}`);
    return { steps: lines.filter((l) => l.type === 'fanout'), connect: lines.find((l) => l.type === 'connected') };
  },

  async idle(sys, cluster, tag) {
    const cap = SYSTEMS[sys].maxConns;
    const r = await idleOnce(sys, cluster, tag, cap ? Math.min(cap, profile.idle.conns) : profile.idle.conns, 0);
    if (cap && cap < profile.idle.conns) r.capped_from = profile.idle.conns;
    if (sys === 'skein') {
      // The same with the clients sharing 30 rooms: the connection's share
      // of the per-connection memory, without a session each.
      const c2 = await SYSTEMS.skein.start(`${tag}s`, { kindOptions: profile.idle.kindOptions });
      try {
        r.shared_rooms = await idleOnce(sys, c2, `${tag}s`, Math.min(profile.idle.conns, 10000), 30);
      } finally {
        await c2.stop();
      }
    }
    return r;
  },

  // Connections held: every client in its own session, as in idle, on a
  // cluster of profile.heldN.nodes nodes (one loadgen process per 16,000).
  async held1(sys, cluster, tag) {
    return held(sys, cluster, tag, profile.held1);
  },
  async held6(sys, cluster, tag) {
    return held(sys, cluster, tag, profile.held6);
  },

  async failover(sys, cluster, tag) {
    const p = profile.failover;
    if (isSkein(sys) && !skeinControls().ctl)
      return { available: false, reason: 'skein-demo has no `ctl` command yet (membership and crash failover: issue 4); with static membership the sessions of a killed node stay unreachable' };
    const victim = cluster.nodes[1];
    const lines = await runLoadgen([...common(sys, cluster), ...withIds(sys), '--scenario', 'rtt', '--tag', tag,
      '--levels', String(p.pairs), '--warmup', '1', '--duration', String(p.duration), '--msg-timeout', String(p.msgTimeout),
      '--event', `${p.at}:kill -9 ${victim.pid}`], `loadgen-${tag}`);
    const r = lines.find((l) => l.type === 'rtt');
    return { available: true, killed: victim.name, at_s: p.at, pairs: p.pairs, ...r };
  },

  async migrate(sys, cluster, tag) {
    const p = profile.migrate;
    if (!isSkein(sys)) return { available: false, reason: 'no live migration in Socket.IO' };
    const c = skeinControls();
    if (!c.ctl) return { available: false, reason: 'skein-demo has no `ctl` command yet (join/drain/move: issue 4)' };
    // The drain is a short command the load generator runs at its time; the
    // join is a second launcher (`launch --add-node`) that must live until
    // the end, so this process starts and stops it.
    const drained = cluster.nodes[1].name;
    const drain = `${demo} ctl --node ${cluster.urls[0]} --data ${cluster.data} drain ${drained}`;
    let joiner = null;
    let joinTimer = null;
    const joinLog = [];
    const startJoin = async () => {
      if (c.addNodeLaunch) {
        joiner = track(spawn(demo, ['launch', '--add-node', '--data', cluster.data], { stdio: ['ignore', 'pipe', 'pipe'] }), `${tag}-join`);
        joinLog.push({ at_s: p.joinAt, command: 'skein-demo launch --add-node' });
        try {
          const lines = await readUntil(joiner, (l) => l === 'ready', 60000, 'launch --add-node');
          joinLog.push({ ready_after_s: (Date.now() - joinStarted) / 1000, lines: lines.filter((l) => l.startsWith('node ')) });
        } catch (e) {
          joinLog.push({ error: e.message });
        }
      } else if (c.addNodeCtl) {
        joinLog.push({ at_s: p.joinAt, command: 'skein-demo ctl add-node', rc: spawnSync(demo, ['ctl', '--node', cluster.urls[0], 'add-node']).status });
      }
    };
    let joinStarted = 0;
    try {
      const lines = await runLoadgen([...common(sys, cluster), ...withIds(sys), '--scenario', 'rtt', '--tag', tag,
        '--levels', String(p.pairs), '--warmup', '1', '--duration', String(p.duration), '--msg-timeout', String(p.msgTimeout),
        '--event', `${p.drainAt}:${drain}`], `loadgen-${tag}`, {
        onLine: (j) => {
          if (j.type === 'connected' && (c.addNodeLaunch || c.addNodeCtl))
            joinTimer = setTimeout(() => { joinStarted = Date.now(); startJoin(); }, (1 + p.joinAt) * 1000);
        },
      });
      const r = lines.find((l) => l.type === 'rtt');
      if (r && joinLog.length) r.events = [{ at: p.joinAt, command: joinLog[0].command }, ...(r.events ?? [])];
      return { available: true, join: joinLog, drained, pairs: p.pairs, ...r };
    } finally {
      clearTimeout(joinTimer);
      if (joiner) await stopChild(joiner);
    }
  },
};

// --- profile of skein's hot path ---------------------------------------------------

const PROFILE_BUCKETS = [
  // [label, how to find it: inclusive (children) share of the symbols matching, summed]
  ['CAF scheduler idle polling (nanosleep between polls; only with the stealing policy, launch uses sharing)', /^clock_nanosleep@/],
  ['RocksDB write per input (journal + outbox batch: memtable insert, WAL)', /^rocksdb::DBImpl::Write$/],
  // skein's WebSocket streams send(2) and recv(2) since stop 39; CAF's BASP
  // send(2)s; Beast's HTTP and the peers sendmsg(2)/recvmsg(2): every entry
  // point counts (they do not nest in one another).
  ['socket sends: one send per WebSocket frame batch and per BASP write', /^(__libc_sendmsg|__send|__libc_send|__sendto|__libc_sendto)$/],
  ['socket receives (recv, recvmsg)', /^(__libc_recvmsg|__libc_recv|__recv|__recvfrom|__libc_recvfrom)$/],
  ['epoll_wait (Beast io thread, CAF middleman)', /^epoll_wait$/],
];
// [label, self time summed over the symbols (or libraries) matching]
const PROFILE_SELF = [
  ['malloc/free, glibc or jemalloc (self time)', (x) => /^libjemalloc/.test(x.dso)
    || /^(malloc|_int_malloc|cfree@.*|free|_int_free|malloc_consolidate|operator new|operator delete)/.test(x.sym)],
  ['JSON parse and dump, nlohmann (self time)', (x) => /^nlohmann::/.test(x.sym)],
  ['CAF runtime code, libcaf_core + libcaf_io (self time)', (x) => /^libcaf_/.test(x.dso)],
  ['RocksDB code (self time)', (x) => /^librocksdb/.test(x.dso)],
  ['kernel (self time: scheduling, TCP, syscalls)', (x) => x.kernel],
];

function parsePerf(text, children) {
  const out = [];
  const re = children ? /^\s+([\d.]+)%\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$/ : /^\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    if (children) out.push({ total: Number(m[1]), self: Number(m[2]), dso: m[3], kernel: m[4] === 'k', sym: m[5].trim() });
    else out.push({ self: Number(m[1]), dso: m[2], kernel: m[3] === 'k', sym: m[4].trim() });
  }
  return out;
}

async function profileSkein(tag) {
  if (spawnSync('perf', ['--version']).status !== 0) return { available: false, reason: 'perf is not installed (linux-perf)' };
  const cluster = await SYSTEMS.skein.start(tag);
  try {
    const pairs = 100;
    const lg = runLoadgen([...common('skein', cluster), '--scenario', 'rtt', '--tag', tag, '--levels', String(pairs),
      '--warmup', '2', '--duration', '15'], `loadgen-${tag}`);
    await sleep(4000);
    const node = cluster.nodes[0];
    const data = path.join(workDir, `perf-${tag}.data`);
    const rec = spawnSync('perf', ['record', '-F', '499', '-g', '-p', String(node.pid), '-o', data, '--', 'sleep', '5'], { encoding: 'utf8' });
    // Then, without perf record beside it, the cost per message by thread on every node.
    const tc = spawnSync(process.execPath, [path.join(repo, 'bench/thread-costs.mjs'), '--pids', cluster.procs.map((p) => p.pid).join(','),
      '--urls', cluster.urls.join(','), '--seconds', '5', '--json'], { encoding: 'utf8' });
    let threads = null;
    try { threads = tc.status === 0 ? JSON.parse(tc.stdout) : null; } catch { threads = null; }
    if (!threads) log(`thread-costs failed: ${(tc.stderr ?? '').trim().split('\n').pop()}`);
    const [level] = (await lg).filter((l) => l.type === 'rtt');
    if (rec.status !== 0) return { available: false, reason: `perf record failed: ${rec.stderr.trim().split('\n').pop()}` };
    const report = (args) => spawnSync('perf', ['report', '-i', data, '--stdio', '-g', 'none', '--sort', 'dso,sym', ...args],
      { encoding: 'utf8', maxBuffer: 256 << 20 }).stdout ?? '';
    const self = parsePerf(report(['--no-children']), false);
    const incl = parsePerf(report(['--children']), true);
    const buckets = PROFILE_BUCKETS.map(([label, re]) => {
      const hits = incl.filter((x) => re.test(x.sym));
      const pct = Math.round(hits.reduce((sum, x) => sum + x.total, 0) * 100) / 100;
      return { label, pct, symbol: hits.length ? hits.map((x) => x.sym.slice(0, 60)).join(', ') : undefined };
    }).sort((a, b) => b.pct - a.pct);
    const selfSums = PROFILE_SELF.map(([label, f]) => ({ label, pct: Math.round(self.filter(f).reduce((s, x) => s + x.self, 0) * 100) / 100 }))
      .sort((a, b) => b.pct - a.pct);
    const sym = (x) => x.sym.replace(/<.*>/g, '<…>').slice(0, 110);
    return {
      available: true,
      node: node.name,
      pairs,
      command: `perf record -F 499 -g -p PID(${node.name}) -- sleep 5, during rtt with ${pairs} pairs`,
      rtt: level ? { rate: level.rate, p99: level.latency_ms.p99, server_cpu_pct: level.server_cpu_pct } : null,
      buckets,
      self_sums: selfSums,
      top_self: self.slice(0, 15).map((x) => ({ pct: x.self, kernel: x.kernel, sym: sym(x) })),
      threads: threads ? { command: `node bench/thread-costs.mjs --pids ... --urls ... --seconds 5, after the perf window`, ...threads } : null,
    };
  } finally {
    await cluster.stop();
  }
}

// --- main ----------------------------------------------------------------------

/// How good a run is, to keep the best of repeated runs: rtt, the geometric
/// mean of msg/s over the levels; fanout, the deliveries/s of the best
/// unbroken step (then the lower p99 of the first step).
function score(scenario, r) {
  if (!r || r.error) return -Infinity;
  if (r.levels?.length) return Math.exp(r.levels.reduce((s, l) => s + Math.log(Math.max(1, l.rate)), 0) / r.levels.length);
  if (r.steps?.length) {
    const ok = r.steps.filter((st) => !st.broken);
    const best = ok.reduce((m, st) => Math.max(m, st.deliveries_per_s), 0);
    return best - (r.steps[0].latency_ms.p99 / 1e6);
  }
  return 0;
}

/// Mean CPU % of processes outside the benchmark over a run's windows.
function interference(r) {
  const w = r?.levels ?? r?.steps;
  if (!w?.length) return null;
  return w.reduce((s, x) => s + (x.other_cpu_pct ?? 0), 0) / w.length;
}

async function main() {
  for (const s of systemNames) if (!SYSTEMS[s]) throw new Error(`unknown system ${s} (${Object.keys(SYSTEMS).join(', ')})`);
  // skein-demo only when a skein system runs (the ceiling needs its own binary).
  const binaries = new Set([loadgen, ...systemNames.map((s) => SYSTEMS[s].binary).filter(Boolean)]);
  for (const f of binaries) if (!fs.existsSync(f)) throw new Error(`${f} is missing: build first (bench/run does)`);
  const started = Date.now();
  const results = { mode, command: `bench/run --${mode}`, machine: machine(), profile, systems: {}, started: new Date().toISOString() };
  if (skeinArgs.length) results.skein_args = skeinArgs;
  if (opts['skein-preload']) results.skein_preload = opts['skein-preload'];
  log(`mode ${mode}; logs in ${logDir}`);
  for (const scenario of scenarios) {
    if (scenario === 'paced') {
      pacedRate = pacedBase(results);
      log(`paced: fractions of ${pacedRate.rate} msg/s (${pacedRate.from})`);
    }
    // Repeated scenarios alternate systems (A B A B) and keep, per system, the
    // run that other processes on the machine disturbed least.
    const repeats = Number(opts.repeat ?? profile[scenario].repeat ?? 1);
    const runs = {};
    for (let rep = 0; rep < repeats; rep++) {
      for (const sys of systemNames) {
        runs[sys] ??= [];
        const skipped = SYSTEMS[sys].skip?.(scenario);
        if (skipped) {
          runs[sys].push({ available: false, reason: skipped });
          continue;
        }
        const tag = `${scenario.slice(0, 2)}${sys.slice(0, 2)}${rep}${Date.now().toString(36).slice(-4)}`;
        log(`${scenario} on ${sys}${repeats > 1 ? ` (run ${rep + 1} of ${repeats})` : ''}`);
        const t0 = Date.now();
        let cluster;
        let r;
        try {
          cluster = await SYSTEMS[sys].start(tag, { nodes: profile[scenario].nodes, kindOptions: profile[scenario].kindOptions });
          r = await RUN[scenario](sys, cluster, tag);
        } catch (e) {
          log(`${scenario} on ${sys} failed: ${e.message}`);
          r = { error: e.message };
        } finally {
          if (cluster) await cluster.stop();
        }
        r.wall_s = Math.round((Date.now() - t0) / 100) / 10;
        log(`${scenario} on ${sys}: ${r.wall_s} s${interference(r) !== null ? `, other processes ${interference(r).toFixed(0)} % CPU` : ''}`);
        runs[sys].push(r);
      }
    }
    for (const sys of systemNames) {
      results.systems[sys] ??= {};
      const list = runs[sys];
      const ok = list.filter((r) => !r.error);
      // Best of the runs: disturbance by other processes only ever makes a
      // run worse, and both systems get the same number of tries.
      const pick = (ok.length ? ok : list).reduce((a, b) => (score(scenario, b) > score(scenario, a) ? b : a));
      if (list.length > 1) {
        pick.runs = list.length;
        pick.runs_score = list.map((r) => score(scenario, r));
        pick.runs_other_cpu_pct = list.map((r) => (interference(r) === null ? null : Math.round(interference(r))));
        pick.runs_wall_s = list.map((r) => r.wall_s);
        results.all_runs ??= {};
        results.all_runs[sys] ??= {};
        results.all_runs[sys][scenario] = list;
      }
      results.systems[sys][scenario] = pick;
    }
  }
  if ((opts.profile ?? mode === 'full') && systemNames.includes('skein') && scenarios.includes('rtt')) {
    log('profile of a skein node during rtt (perf)');
    try {
      results.hot_path = await profileSkein(`pf${Date.now().toString(36).slice(-4)}`);
    } catch (e) {
      results.hot_path = { available: false, reason: e.message };
    }
  }
  results.wall_s = Math.round((Date.now() - started) / 1000);
  fs.mkdirSync(plotDir, { recursive: true });
  fs.writeFileSync(path.join(plotDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  writeReport(results, { outDir, plotDir, workDir });
  log(`done in ${results.wall_s} s: ${path.join(outDir, 'benchmarks.md')}, plots in ${plotDir}`);
  const failed = Object.values(results.systems).some((s) => Object.values(s).some((r) => r.error));
  if (failed) {
    log(`some scenarios failed; logs kept in ${logDir}`);
    process.exitCode = 1;
  } else if (process.env.SKEIN_BENCH_KEEP) {
    log(`SKEIN_BENCH_KEEP: logs and data kept in ${workDir}`);
  } else {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  log(`failed: ${e.stack ?? e.message}`);
  log(`logs kept in ${logDir}`);
  process.exitCode = 1;
});
