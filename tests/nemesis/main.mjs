// tests/nemesis entry point: runs seeded schedules (schedule.mjs) back to
// back until --minutes is up (or --schedules are done), prints every
// anomaly by class, and ends with exactly one summary line:
//   nemesis: N schedules, F faults, O operations, anomalies: A
// Exit 0 iff A == 0 (with --expect-anomalies: iff A > 0); 77 = skipped
// (not root, or ip/iptables missing); 2 = bad arguments or harness error.
//
//   node tests/nemesis/main.mjs [--minutes M] [--seed S] [--nodes 5]
//        [--faults safe|all|every|KIND,KIND...]  (every: all plus restart_minority) [--schedule-seconds D] [--schedules K]
//        [--rate ADDS_PER_S (overrides the plan's)]
//        [--unsafe-skip-fencing] [--expect-anomalies] [--bin PATH]

import path from 'node:path';
import { parseArgs } from 'node:util';
import { byClass } from './checker.mjs';
import { cleanupStale, createNet, unavailableReason } from './netns.mjs';
import { ALL_FAULTS, EVERY_FAULT, SAFE_FAULTS, runSchedule } from './schedule.mjs';

const { values: opt } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    seed: { type: 'string' },
    nodes: { type: 'string', default: '5' },
    faults: { type: 'string', default: 'safe' },
    'schedule-seconds': { type: 'string', default: '60' },
    schedules: { type: 'string', default: '0' },
    rate: { type: 'string' },
    'unsafe-skip-fencing': { type: 'boolean', default: false },
    'expect-anomalies': { type: 'boolean', default: false },
    // Added to every node's command line, e.g. --node-arg=--kind-option
    // --node-arg=chat.hibernate_ms=200 (repeatable, in order).
    'node-arg': { type: 'string', multiple: true, default: [] },
    bin: { type: 'string', default: process.env.SKEIN_DEMO ?? path.resolve('build/bin/skein-demo') },
  },
});

const startedAt = Date.now();
const budgetMs = Number(opt.minutes) * 60_000;
const nodes = Number(opt.nodes);
const named = opt.faults.split(',');
const faults = opt.faults === 'all' ? ALL_FAULTS : opt.faults === 'safe' ? SAFE_FAULTS
  : opt.faults === 'every' ? EVERY_FAULT
  : named.every((f) => EVERY_FAULT.includes(f)) ? named : null;
if (!faults || !(budgetMs > 0) || !(nodes >= 3)) {
  console.error('usage: main.mjs [--minutes M] [--seed S] [--nodes N>=3] [--faults safe|all|every|KIND,...] [--rate R] [--schedule-seconds D] [--schedules K] [--node-arg=ARG ...]');
  process.exit(2);
}
const why = unavailableReason();
if (why) {
  console.log(`nemesis: SKIPPED: ${why}`);
  process.exit(77);
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const log = (s) => console.log(`[${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${s}`);
let seed = opt.seed !== undefined ? Number(opt.seed) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const extraArgs = [...(opt['unsafe-skip-fencing'] ? ['--unsafe-skip-fencing'] : []), ...opt['node-arg']];
console.log(`nemesis: seed ${seed}, ${nodes} nodes, faults ${opt.faults} (${faults.join(',')}), ${opt.minutes} min${extraArgs.length ? `, nodes run with ${extraArgs.join(' ')}` : ''}`);
console.log(`nemesis: rerun with --seed ${seed} --faults ${opt.faults} --nodes ${nodes} --schedule-seconds ${opt['schedule-seconds']}`);

cleanupStale();
const net = createNet(nodes + 2);
log(`bridge skn${net.tag} 10.77.${net.subnet}.0/24, hosts ${net.hosts.map((h) => h.addr).join(' ')}`);

const OVERHEAD_MS = 100_000;  // start, heal, convergence, reads, stop, inspect
let schedules = 0;
let faultCount = 0;
let operations = 0;
const all = [];
const stalled = [];
try {
  for (;;) {
    const left = budgetMs - (Date.now() - startedAt);
    const wantMs = Number(opt['schedule-seconds']) * 1000;
    const durationMs = Math.min(wantMs, left - OVERHEAD_MS);
    if (durationMs < Math.min(20_000, wantMs)) break;
    if (Number(opt.schedules) > 0 && schedules >= Number(opt.schedules)) break;
    const r = await runSchedule({ seed, net, bin: opt.bin, nodes, durationMs, faults, extraArgs, log, rate: opt.rate ? Number(opt.rate) : undefined });
    schedules++;
    faultCount += r.faults;
    operations += r.operations;
    for (const a of r.anomalies) all.push({ ...a, seed });
    for (const x of r.stalled) stalled.push(`seed ${seed} ${x}`);
    log(`schedule ${schedules} (seed ${seed}): ${r.faults} faults, ${r.operations} operations, ${r.anomalies.length} anomalies, ${r.stalled.length} stalled writers; ${r.notes.join('; ')}`);
    seed = (seed + 1) >>> 0;
  }
} catch (e) {
  console.log(`nemesis: harness error: ${e.stack ?? e.message}`);
  net.destroy();
  console.log(`nemesis: ${schedules} schedules, ${faultCount} faults, ${operations} operations, anomalies: ${all.length}`);
  process.exit(2);
}
net.destroy();
if (schedules === 0) {
  // A run that checked nothing must not read as clean.
  console.log(`nemesis: no schedule fits in --minutes ${opt.minutes} (each needs ${OVERHEAD_MS / 1000} s of overhead plus at least 20 s of faults)`);
  console.log(`nemesis: 0 schedules, 0 faults, 0 operations, anomalies: 0`);
  process.exit(2);
}

const groups = byClass(all);
for (const [cls, list] of Object.entries(groups)) {
  console.log(`${cls}: ${list.length}`);
  for (const a of list.slice(0, 15)) console.log(`  seed ${a.seed} ${a.session}: ${a.detail}`);
  if (list.length > 15) console.log(`  ... ${list.length - 15} more`);
}
// Liveness, not counted in A: a writer whose connection stayed open but
// whose adds were not acknowledged within 20 s of healing.
if (stalled.length) {
  console.log(`liveness (not counted as anomalies): STALLED writers: ${stalled.length}`);
  for (const x of stalled.slice(0, 10)) console.log(`  ${x}`);
}
const A = all.length;
console.log(`nemesis: ${schedules} schedules, ${faultCount} faults, ${operations} operations, anomalies: ${A}`);
const ok = opt['expect-anomalies'] ? A > 0 : A === 0;
process.exit(ok ? 0 : 1);
