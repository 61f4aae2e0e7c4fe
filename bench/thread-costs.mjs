#!/usr/bin/env node
// Where a message's CPU goes, by thread: samples skein nodes under load for
// a window and prints, per kind of thread summed over the nodes, the CPU,
// the system calls and the context switches per client message.
//
//   node bench/thread-costs.mjs --pids P1,P2,P3 --urls URL1,URL2,URL3 [--seconds 8] [--json]
//
// --json prints one object (bench/lib/run.mjs's profile keeps it):
//   {messages, seconds, nodes, threads: [{kind, cpu_us, syscalls, switches}],
//    total: {...}, store_batches, rocksdb_writes}   (all per client message)
//
// Run it while a load runs (skein-loadgen --scenario rtt ...). Messages are
// the nodes' skein_messages_in_total over the window (in rtt, one per
// message delivered to the peer). CPU is utime + stime from
// /proc/PID/task/TID/stat (clock ticks, 100 per second); context switches
// are voluntary + involuntary from .../status; system calls are counted by
// `perf stat --per-thread -e raw_syscalls:sys_enter` (root, or
// kernel.perf_event_paranoid <= 1; without perf that column is empty).
//
// Threads are grouped by name. CAF 0.17 names both its scheduler workers and
// the BASP middleman `caf.multiplexer`; the middleman is told apart as the
// one most often found in epoll_wait (/proc/.../syscall, sampled through the
// window). Also prints the store batches (one per input and copy, and one
// per pending input with the poison guard) and RocksDB writes per message.
// Linux-only.
import fs from 'node:fs';
import { spawn } from 'node:child_process';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => {
  if (v.startsWith('--') && v !== '--json') a.push([v.slice(2), all[i + 1]]);
  return a;
}, []));
if (!args.pids || !args.urls) {
  console.error('usage: node bench/thread-costs.mjs --pids P1,P2 --urls URL1,URL2 [--seconds 8] [--json]');
  process.exit(2);
}
const pids = args.pids.split(',').map(Number);
const urls = args.urls.split(',');
const seconds = Number(args.seconds ?? 8);
const json = process.argv.includes('--json');
const EPOLL = new Set(['232', '281', '441']);  // epoll_wait, epoll_pwait, epoll_pwait2 (x86-64)

function tasks() {
  const out = new Map();
  for (const pid of pids) {
    if (!fs.existsSync(`/proc/${pid}/task`)) throw new Error(`process ${pid} has ended`);
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        const base = `/proc/${pid}/task/${tid}`;
        const comm = fs.readFileSync(`${base}/comm`, 'utf8').trim();
        const status = fs.readFileSync(`${base}/status`, 'utf8');
        const cs = [...status.matchAll(/ctxt_switches:\s+(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
        const stat = fs.readFileSync(`${base}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(tid, { pid, comm, cs, ticks: Number(f[11]) + Number(f[12]) });
      } catch { /* the thread ended */ }
    }
  }
  return out;
}

// Sums of the nodes' counters: client messages, and the group committer's
// batches and RocksDB writes.
async function counters() {
  const c = { msgs: 0, batches: 0, writes: 0 };
  for (const u of urls) {
    const text = await (await fetch(`${u}/metrics`)).text();
    const get = (name) => Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN);
    c.msgs += get('skein_messages_in_total');
    c.batches += get('skein_store_write_batches_total');
    c.writes += get('skein_store_writes_total');
  }
  if (Number.isNaN(c.msgs + c.batches + c.writes))
    throw new Error('a node\'s /metrics lacks skein_messages_in_total or the store write counters');
  return c;
}

const c0 = await counters();
const t0 = tasks();
const perfOut = `/tmp/thread-costs-${process.pid}.csv`;
const perf = spawn('perf', ['stat', '--per-thread', '-x,', '-o', perfOut, '-e', 'raw_syscalls:sys_enter',
  '-p', pids.join(','), '--', 'sleep', String(seconds)], { stdio: 'ignore' });
let perfOk = true;
perf.on('error', () => { perfOk = false; });
const inEpoll = new Map();
const until = Date.now() + seconds * 1000;
while (Date.now() < until) {
  for (const [tid, t] of t0) {
    if (t.comm !== 'caf.multiplexer') continue;
    try {
      const nr = fs.readFileSync(`/proc/${t.pid}/task/${tid}/syscall`, 'utf8').split(' ')[0];
      if (EPOLL.has(nr)) inEpoll.set(tid, (inEpoll.get(tid) ?? 0) + 1);
    } catch { /* ended */ }
  }
  await new Promise((r) => setTimeout(r, 50));
}
await new Promise((r) => (perf.exitCode !== null || !perfOk ? r() : perf.on('exit', r)));
perfOk = perfOk && perf.exitCode === 0;  // e.g. not root: no counts, not zeros
const t1 = tasks();
const c1 = await counters();
const msgs = c1.msgs - c0.msgs;

const syscalls = new Map();
if (perfOk && fs.existsSync(perfOut)) {
  for (const line of fs.readFileSync(perfOut, 'utf8').split('\n')) {
    const f = line.split(',');
    if (f.length > 3 && /^\d+$/.test(f[1])) syscalls.set(f[0].slice(f[0].lastIndexOf('-') + 1), Number(f[1]));
  }
  fs.rmSync(perfOut, { force: true });
}

// The middleman of each node: its caf.multiplexer thread most often in epoll_wait.
const middleman = new Set();
for (const pid of pids) {
  let best = null;
  for (const [tid, t] of t0)
    if (t.pid === pid && t.comm === 'caf.multiplexer' && (best === null || (inEpoll.get(tid) ?? 0) > (inEpoll.get(best) ?? 0)))
      best = tid;
  if (best !== null && inEpoll.get(best)) middleman.add(best);
}

const kinds = new Map();
for (const [tid, b] of t1) {
  const a = t0.get(tid);
  if (!a) continue;
  let kind = b.comm;
  if (kind === 'caf.multiplexer') kind = middleman.has(tid) ? 'caf middleman (BASP)' : 'caf worker';
  if (kind.startsWith('rocksdb:')) kind = 'rocksdb flush/compaction';
  const k = kinds.get(kind) ?? { ticks: 0, cs: 0, sys: 0 };
  k.ticks += b.ticks - a.ticks;
  k.cs += b.cs - a.cs;
  k.sys += syscalls.get(tid) ?? 0;
  kinds.set(kind, k);
}

const rows = [...kinds].filter(([, k]) => k.ticks > 0 || k.cs > 0).sort((x, y) => y[1].ticks - x[1].ticks);
const total = rows.reduce((t, [, k]) => ({ ticks: t.ticks + k.ticks, cs: t.cs + k.cs, sys: t.sys + k.sys }), { ticks: 0, cs: 0, sys: 0 });
const per = (x) => (msgs > 0 ? x / msgs : null);
const usPer = (ticks) => per(ticks * 1e4);  // 100 ticks a second
if (json) {
  const r2 = (x) => (x === null ? null : Math.round(x * 100) / 100);
  const row = (kind, k) => ({ kind, cpu_us: r2(usPer(k.ticks)), syscalls: perfOk ? r2(per(k.sys)) : null, switches: r2(per(k.cs)) });
  console.log(JSON.stringify({
    messages: msgs, seconds, nodes: pids.length,
    threads: rows.map(([kind, k]) => row(kind, k)),
    total: row('all', total),
    store_batches: r2(per(c1.batches - c0.batches)),
    rocksdb_writes: msgs > 0 ? Math.round(per(c1.writes - c0.writes) * 1000) / 1000 : null,
  }));
} else {
  const f = (x, d = 2) => (x === null ? '–' : x.toFixed(d));
  console.log(`${msgs} client messages in ${seconds} s (${(msgs / seconds).toFixed(0)}/s) on ${pids.length} nodes`);
  console.log('| thread (all nodes) | CPU µs per message | system calls per message | context switches per message |');
  console.log('|---|---:|---:|---:|');
  for (const [kind, k] of rows) console.log(`| ${kind} | ${f(usPer(k.ticks), 1)} | ${perfOk ? f(per(k.sys)) : '–'} | ${f(per(k.cs))} |`);
  console.log(`| all | ${f(usPer(total.ticks), 1)} | ${perfOk ? f(per(total.sys)) : '–'} | ${f(per(total.cs))} |`);
  console.log('');
  console.log(`store batches per message: ${f(per(c1.batches - c0.batches))}; RocksDB writes per message: ${f(per(c1.writes - c0.writes), 3)}`);
}
