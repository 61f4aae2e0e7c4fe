// Writes docs/benchmarks.md and the gnuplot PNGs from a results object
// (bench/lib/run.mjs). Can be re-run alone on a saved results file:
//   node bench/lib/report.mjs docs/bench/results.json
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// Issue 15's targets.
const TARGETS = {
  rttPeak: 1.5, // x the peer's peak msg/s, skein with the demo's durability (replicated)
  rttPeakNone: 3, // x the peer's peak msg/s, skein-none (durability none)
  fanout: 3, // x the peer's deliveries/s before p99 passes 50 ms
  fanoutCeiling: 0.7, // ... or this fraction of the ceiling's, if the ceiling is below 3x the peer
  idleKiB: 6, // server RSS per idle connection, session included
};

// Hand-written sections of docs/benchmarks.md after this line survive a rerun.
const KEEP_MARKER = '<!-- bench/run keeps the hand-written sections below this line -->';

const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–'
  : Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const ms = (x) => (x === undefined || x === null ? '–' : x >= 100 ? fmt(x, 0) : x >= 10 ? fmt(x, 1) : fmt(x, 2));
const ratio = (a, b) => (a && b ? `${fmt(a / b, a / b >= 10 ? 0 : 2)}×` : '–');
const mib = (kb) => fmt(kb / 1024, 0);

function na(r) {
  if (!r) return 'not run';
  if (r.error) return `failed: ${r.error}`;
  if (r.available === false) return `not available (${r.reason})`;
  return null;
}

// --- derived numbers ---------------------------------------------------------------

/// The level with the highest msg/s.
const peakLevel = (levels) => levels.reduce((a, b) => (b.rate > a.rate ? b : a));

function rttSummary(s, p) {
  if (na(s) || na(p) || !s.levels?.length || !p.levels?.length) return null;
  const best = peakLevel;
  const pb = best(p.levels);
  const sb = best(s.levels);
  const limit = pb.latency_ms.p99 / 10;
  const ok = s.levels.filter((l) => l.latency_ms.p99 <= limit);
  const sAtLimit = ok.length ? best(ok) : null;
  const x = sAtLimit ? sAtLimit.rate / pb.rate : 0;
  return { pb, sb, limit, sAtLimit, x };
}

/// paced: the level of `r` (one system's paced result) at `pairs` pairs
/// offered `fraction` of the base rate.
function pacedAt(r, pairs, fraction) {
  if (na(r) || !r.runs) return null;
  return r.runs.find((x) => x.pairs === pairs)?.levels.find((l) => l.fraction === fraction) ?? null;
}
/// A paced level carried what it was offered: 99 % delivered, none lost.
const carried = (l) => l && l.rate >= 0.99 * l.offered && l.lost === 0;
/// paced: a system's open-loop capacity, the highest rate it carried
/// unbroken (p99 within the limit) over every pair count: { level, pairs }.
function pacedCapacity(r) {
  if (na(r) || !r.runs) return null;
  let best = null;
  for (const run of r.runs)
    for (const l of run.levels)
      if (!l.broken && (!best || l.offered > best.level.offered)) best = { level: l, pairs: run.pairs };
  return best;
}

/// paced, as the summary and the list of misses read it: the open-loop
/// capacities of skein, the peer and skein-none, and per pair count skein's
/// and the peer's levels at the peer's peak rate (1x) with the verdict.
/// null unless both skein and the peer ran paced.
function pacedVerdicts(results) {
  const S = results.systems.skein?.paced;
  const P = results.systems.socketio?.paced;
  if (na(S) || na(P) || !S.runs || !P.runs) return null;
  // peerBroke: the peer's first broken rate when it broke below 1× (its
  // own closed-loop peak), so that it has no row at 1× to compare with.
  const atPeak = S.runs.map((run) => {
    const a = pacedAt(S, run.pairs, 1);
    const b = pacedAt(P, run.pairs, 1);
    const peerRun = P.runs.find((x) => x.pairs === run.pairs);
    const peerBroke = b ? null : peerRun?.levels.find((l) => l.broken && l.fraction < 1) ?? null;
    const broke = run.levels.find((l) => l.broken);
    // With no 1× row for the peer: skein broke at a rate the peer still carried.
    const brokeLower = !a && !!broke && !!peerBroke && broke.offered < peerBroke.offered;
    return { pairs: run.pairs, a, b, peerBroke, broke, brokeLower, met: carried(a) && b && a.latency_ms.p99 <= b.latency_ms.p99 };
  }).filter((x) => x.b || x.peerBroke);
  return {
    lim: results.profile.paced?.p99LimitMs ?? 50,
    cS: pacedCapacity(S),
    cP: pacedCapacity(P),
    cN: pacedCapacity(results.systems['skein-none']?.paced),
    atPeak,
  };
}

// Server CPU per message in µs: CPU % of one core at `rate` messages per second.
const cpuUs = (cpuPct, rate) => (rate > 0 && cpuPct != null ? (cpuPct / 100) * 1e6 / rate : null);
const pct = (a, b) => (a && b ? `${fmt(100 * a / b, 0)} %` : '–');

// Systems other than skein and socketio, in the order they ran, and how the
// report names them.
const NAMES = {
  skein: 'skein',
  socketio: 'Socket.IO + redis',
  'skein-none': 'skein, durability none',
  'skein-async': 'skein, durability async',
  'skein-local': 'skein, durability local',
  'socketio-durable': 'Socket.IO + redis streams, recovery, AOF',
  ceiling: 'ceiling',
};
const nameOf = (sys) => NAMES[sys] ?? sys;
const others = (results) => Object.keys(results.systems).filter((k) => k !== 'skein' && k !== 'socketio');

function fanoutBest(r) {
  if (na(r) || !r.steps?.length) return null;
  const ok = r.steps.filter((st) => !st.broken);
  if (!ok.length) return { deliveries_per_s: 0, step: null, broke: r.steps[0] };
  const step = ok.reduce((a, b) => (b.deliveries_per_s > a.deliveries_per_s ? b : a));
  return { deliveries_per_s: step.deliveries_per_s, step, broke: r.steps.find((st) => st.broken) };
}

// --- plots -----------------------------------------------------------------------------

function gnuplot(script, dir) {
  const file = path.join(dir, `plot-${process.pid}-${Math.random().toString(36).slice(2)}.gp`);
  fs.writeFileSync(file, script);
  const r = spawnSync('gnuplot', [file], { encoding: 'utf8' });
  if (r.status !== 0) console.error(`gnuplot failed: ${r.stderr}`);
  return r.status === 0;
}

// The p99 lines of the systems other than skein and socketio.
const COLORS = { 'skein-none': '#2ca02c', 'skein-async': '#8c564b', 'skein-local': '#9467bd', 'socketio-durable': '#ff7f0e', ceiling: '#000000' };

function writePlots(results, plotDir, tmp) {
  const made = [];
  const S = results.systems.skein ?? {};
  const P = results.systems.socketio ?? {};
  const term = 'set terminal pngcairo size 960,600 noenhanced font ",11"';
  const dat = (name, rows) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, `${rows.map((r) => r.join(' ')).join('\n')}\n`);
    return f;
  };
  const extra = (scenario, rows, x, y) => others(results).filter((k) => !na(results.systems[k][scenario])).map((k, i) => {
    const f = dat(`${scenario}-x${i}.dat`, rows(results.systems[k][scenario]));
    return `, \\\n     '${f}' using ${x}:${y} with linespoints lw 2 pt ${8 + 2 * i} lc rgb '${COLORS[k] ?? '#8c564b'}' title '${nameOf(k)} p99'`;
  }).join('');

  // rtt: latency vs throughput, one point per concurrency level
  const rttRows = (r) => (na(r) ? [] : r.levels.map((l) => [l.rate, l.latency_ms.p50, l.latency_ms.p99, l.pairs]));
  const rttMore = extra('rtt', rttRows, 1, 3);
  if (!na(S.rtt) || !na(P.rtt) || rttMore) {
    const rows = rttRows;
    const more = rttMore;
    const fs1 = dat('rtt-skein.dat', rows(S.rtt));
    const fs2 = dat('rtt-sio.dat', rows(P.rtt));
    const out = path.join(plotDir, 'rtt.png');
    if (gnuplot(`${term}
set output '${out}'
set title 'rtt: chat ping-pong, pairs on different nodes (labels: pairs)'
set xlabel 'messages per second'
set ylabel 'latency, send to peer receive (ms)'
set logscale xy
set grid
set key top left
plot '${fs1}' using 1:3 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'skein p99', \\
     '${fs1}' using 1:2 with linespoints lw 1 pt 6 dt 2 lc rgb '#1f77b4' title 'skein p50', \\
     '${fs2}' using 1:3 with linespoints lw 2 pt 5 lc rgb '#d62728' title 'Socket.IO + redis p99', \\
     '${fs2}' using 1:2 with linespoints lw 1 pt 4 dt 2 lc rgb '#d62728' title 'Socket.IO + redis p50', \\
     '${fs1}' using 1:3:4 with labels offset 0,1 notitle, \\
     '${fs2}' using 1:3:4 with labels offset 0,1 notitle${more}
`, tmp)) made.push('rtt.png');
  }

  // fanout: p99 vs deliveries per second, one point per publish rate
  const fanRows = (r) => (na(r) ? [] : r.steps.map((st) => [Math.max(1, st.deliveries_per_s), st.latency_ms.p99, st.latency_ms.p50, st.rate]));
  const fanMore = extra('fanout', fanRows, 1, 2);
  if (!na(S.fanout) || !na(P.fanout) || fanMore) {
    const rows = fanRows;
    const more = fanMore;
    const f1 = dat('fan-skein.dat', rows(S.fanout));
    const f2 = dat('fan-sio.dat', rows(P.fanout));
    const out = path.join(plotDir, 'fanout.png');
    if (gnuplot(`${term}
set output '${out}'
set title 'fanout: one room, ${results.profile.fanout.subscribers} subscribers on 3 nodes (labels: publishes/s)'
set xlabel 'deliveries per second'
set ylabel 'latency, publish to subscriber receive (ms)'
set logscale xy
set grid
set key top left
plot '${f1}' using 1:2 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title 'skein p99', \\
     '${f1}' using 1:3 with linespoints lw 1 pt 6 dt 2 lc rgb '#1f77b4' title 'skein p50', \\
     '${f2}' using 1:2 with linespoints lw 2 pt 5 lc rgb '#d62728' title 'Socket.IO + redis p99', \\
     '${f2}' using 1:3 with linespoints lw 1 pt 4 dt 2 lc rgb '#d62728' title 'Socket.IO + redis p50', \\
     50 with lines dt 3 lc rgb '#555555' title 'p99 limit 50 ms', \\
     '${f1}' using 1:2:4 with labels offset 0,1 notitle, \\
     '${f2}' using 1:2:4 with labels offset 0,1 notitle${more}
`, tmp)) made.push('fanout.png');
  }

  // failover / migrate: delivered messages per bucket over time
  const timelines = [];
  const colors = { 'skein failover': '#1f77b4', 'skein migrate': '#2ca02c', 'socketio failover': '#d62728' };
  for (const [sys, label] of [['skein', 'skein'], ['socketio', 'Socket.IO + redis']]) {
    for (const sc of ['failover', 'migrate']) {
      const color = colors[`${sys} ${sc}`] ?? '#555555';
      const r = results.systems[sys]?.[sc];
      if (na(r) || !r.timeline) continue;
      const b = r.bucket_ms / 1000;
      // the last bucket may be cut by the end of the window
      const full = r.timeline.slice(0, Math.floor(r.seconds / b));
      const f = dat(`tl-${sys}-${sc}.dat`, full.map((n, i) => [(i * b).toFixed(2), n / b]));
      timelines.push({ f, title: `${label} ${sc}`, color, events: r.events ?? [] });
    }
  }
  if (timelines.length) {
    const out = path.join(plotDir, 'failover.png');
    const arrows = timelines.flatMap((t) => t.events.map((e) => `set arrow from ${e.at},graph 0 to ${e.at},graph 1 nohead dt 2 lw 2 lc rgb '${t.color}'`));
    if (gnuplot(`${term}
set output '${out}'
set title 'failover (a node killed) and migrate (a node joins, another drains): messages delivered per second; dashed: the events'
set xlabel 'seconds into the measured window'
set ylabel 'messages per second'
set grid
set key top right
${arrows.join('\n')}
plot ${timelines.map((t) => `'${t.f}' using 1:2 with lines lw 2 lc rgb '${t.color}' title '${t.title}'`).join(', \\\n     ')}
`, tmp)) made.push('failover.png');
  }
  return made;
}

// --- markdown --------------------------------------------------------------------------

export function writeReport(results, { outDir, plotDir, workDir }) {
  const tmp = fs.mkdtempSync(path.join(workDir ?? os.tmpdir(), 'report-'));
  fs.mkdirSync(plotDir, { recursive: true });
  const plots = writePlots(results, plotDir, tmp);
  const relPlot = (f) => path.relative(outDir, path.join(plotDir, f));
  const S = results.systems.skein ?? {};
  const P = results.systems.socketio ?? {};
  const m = results.machine;
  const L = [];
  // A table of one scenario's rows for the systems other than skein and the
  // peer that ran it; `rows(r)` gives the cells after the system's name.
  const otherSystems = (scenario, ceilingNote, columns, rows) => {
    const ks = others(results).filter((k) => results.systems[k][scenario]);
    if (!ks.length) return;
    L.push(`The other systems of this run${ks.includes('ceiling') ? ` (${ceilingNote})` : ''}:`, '');
    L.push(`| system | ${columns.join(' | ')} |`, `|---|${columns.map(() => '---:|').join('')}`);
    for (const k of ks) {
      const r = results.systems[k][scenario];
      if (na(r)) L.push(`| ${k} | ${na(r)} |${' |'.repeat(columns.length - 1)}`);
      else for (const cells of rows(r)) L.push(`| ${k} | ${cells} |`);
    }
    L.push('');
  };
  const machineLine = `${m.nproc} cores (${m.cpu}), ${m.ram_gib} GiB RAM, Linux ${m.kernel}, Node ${m.node}, `
    + `redis-server ${m.redis}, socket.io ${m.socketio} + @socket.io/redis-adapter ${m.redis_adapter}`
    + `${m.redis_streams_adapter ? ` (durable peer: @socket.io/redis-streams-adapter ${m.redis_streams_adapter})` : ''}, `
    + `${m.date}, skein ${m.commit}, load average at start ${m.loadavg.join(' ')}`
    + (m.kernel_costs ? `; kernel prices before the run (\`skein-kernel-costs\`): a system call ${fmt(m.kernel_costs.syscall_us, 2)} µs, `
      + `a thread wake with its context switch ${fmt(m.kernel_costs.wake_us, 2)} µs, a 64-byte loopback TCP message ${fmt(m.kernel_costs.loopback_us, 2)} µs` : '');

  L.push('# Benchmarks', '');
  L.push(`skein against Socket.IO 4 + \`@socket.io/redis-adapter\` over redis-server (3 Node processes), `
    + `both as 3 processes on one machine, measured back to back in the same run by the same load generator `
    + `(\`skein-loadgen\`, C++/Beast, which shares the machine). Produced by \`${results.command}\` `
    + `(${results.wall_s} s); raw numbers in [bench/results.json](${relPlot('results.json')}).`
    + (results.systems['socketio-durable'] ? ' The durable peer (`socketio-durable`) is the same peer with `@socket.io/redis-streams-adapter` '
      + '(every broadcast an XADD to a redis stream), Socket.IO\'s connection state recovery, and redis-server with `appendonly yes` (`appendfsync everysec`).' : '')
    + (results.systems.ceiling ? ` The ceiling (\`ceiling\`, [bench/ceiling/ceiling.cpp](${path.relative(outDir, path.join(repo, 'bench/ceiling/ceiling.cpp'))})) is the smallest server that speaks the same chat protocol: `
      + 'one process, one Beast io thread, rooms in memory, no actors, no persistence, no cluster.' : ''), '');
  L.push(`**Machine:** ${machineLine}.`, '');
  for (const mg of results.merged ?? [])
    L.push(`Merged from a later run (\`bench/lib/merge.mjs\`; ${mg.date ?? mg.started}, skein ${mg.commit}): ${mg.scenarios.join(', ')}.`, '');

  // summary
  const rs = rttSummary(S.rtt, P.rtt);
  const fS = fanoutBest(S.fanout);
  const fP = fanoutBest(P.fanout);
  const C = results.systems.ceiling ?? {};
  const fC = fanoutBest(C.fanout);
  const cPeak = na(C.rtt) || !C.rtt.levels?.length ? null : peakLevel(C.rtt.levels);
  // Issue 15: fanout >= 3x the peer, or >= 70 % of the ceiling if the ceiling is lower than that.
  const fanCeiling = fC?.step && fP?.step && fC.deliveries_per_s < TARGETS.fanout * fP.deliveries_per_s ? fC.deliveries_per_s : null;
  L.push('## Summary', '');
  L.push('| scenario | measure | skein | Socket.IO + redis | skein / peer | target | met |');
  L.push('|---|---|---:|---:|---:|---|---|');
  if (rs) {
    const peakMet = rs.sb.rate >= TARGETS.rttPeak * rs.pb.rate;
    L.push(`| rtt | peak msg/s (pairs) | ${fmt(rs.sb.rate)} (${rs.sb.pairs}) | ${fmt(rs.pb.rate)} (${rs.pb.pairs}) | ${ratio(rs.sb.rate, rs.pb.rate)} | ≥ ${TARGETS.rttPeak}× | ${peakMet ? 'yes' : '**no**'} |`);
    const N = results.systems['skein-none'];
    if (!na(N?.rtt) && N.rtt.levels?.length) {
      const nb = peakLevel(N.rtt.levels);
      L.push(`| rtt | peak msg/s, skein with durability none (pairs) | ${fmt(nb.rate)} (${nb.pairs}) | ${fmt(rs.pb.rate)} (${rs.pb.pairs}) | ${ratio(nb.rate, rs.pb.rate)} | ≥ ${TARGETS.rttPeakNone}× | ${nb.rate >= TARGETS.rttPeakNone * rs.pb.rate ? 'yes' : '**no**'} |`);
    }
    // At the peer's peak *rate*: skein at the same pairs counts only if it
    // carried that rate there too (a closed loop at a lower rate is not the
    // same load; stop 47's run tied at 21.1 ms with skein at 0.58x the rate).
    const atPeerLevel = S.rtt.levels.find((l) => l.pairs === rs.pb.pairs);
    const atPeer = atPeerLevel?.latency_ms.p99;
    const sameRate = atPeerLevel !== undefined && atPeerLevel.rate >= rs.pb.rate;
    const p99Met = atPeer !== undefined && atPeer <= rs.pb.latency_ms.p99 && sameRate;
    const pv = pacedVerdicts(results);
    L.push(`| rtt | p99 at the peer's peak${pv ? ', closed loop' : ''} (ms; skein at the same pairs, with its msg/s there) | ${ms(atPeer)}${atPeerLevel ? ` (${fmt(atPeerLevel.rate)} msg/s)` : ''} | ${ms(rs.pb.latency_ms.p99)} (${fmt(rs.pb.rate)} msg/s) | ${ratio(atPeer, rs.pb.latency_ms.p99)} | ${pv ? '(see the open-loop rows)' : '≤ the peer\'s, at its rate'} | ${pv ? '' : p99Met ? 'yes' : atPeerLevel && !sameRate ? `**no**: skein ran ${ratio(atPeerLevel.rate, rs.pb.rate)} of the peer's rate there` : '**no**'} |`);
    if (pv) {
      // The peak targets read open loop: the highest rate each carried.
      const { lim, cS, cP, cN } = pv;
      const capCell = (c) => (c ? `${fmt(c.level.offered)} (${c.pairs})` : 'none');
      if (cP) {
        L.push(`| rtt | open loop: msg/s carried with p99 ≤ ${lim} ms (pairs) | ${capCell(cS)} | ${capCell(cP)} | ${ratio(cS?.level.offered, cP.level.offered)} | ≥ ${TARGETS.rttPeak}× | ${cS && cS.level.offered >= TARGETS.rttPeak * cP.level.offered ? 'yes' : '**no**'} |`);
        if (cN) L.push(`| rtt | open loop: msg/s carried with p99 ≤ ${lim} ms, skein with durability none (pairs) | ${capCell(cN)} | ${capCell(cP)} | ${ratio(cN.level.offered, cP.level.offered)} | ≥ ${TARGETS.rttPeakNone}× | ${cN.level.offered >= TARGETS.rttPeakNone * cP.level.offered ? 'yes' : '**no**'} |`);
      }
      // The target as it reads: both offered the peer's peak rate (open loop).
      for (const { pairs, a, b, peerBroke, broke, brokeLower, met } of pv.atPeak) {
        if (!b) {  // the peer broke below its own peak rate: nothing to compare at 1×
          const skeinCell = a ? `${ms(a.latency_ms.p99)} (${fmt(a.rate)} of ${fmt(a.offered)} msg/s)`
            : `broke at ${broke ? `${fmt(broke.offered)} msg/s (p99 ${ms(broke.latency_ms.p99)} ms)` : 'a lower rate'}`;
          L.push(`| rtt | p99 at the peer's peak rate, open loop, ${pairs} pairs (ms) | ${skeinCell} | broke at ${fmt(peerBroke.offered)} msg/s (p99 ${ms(peerBroke.latency_ms.p99)} ms), below its own closed-loop peak | – | ≤ the peer's, at its rate | ${brokeLower ? '**no**: skein broke at a lower rate than the peer' : 'undecided: the peer did not carry its peak rate open loop'} |`);
          continue;
        }
        if (!a) {
          L.push(`| rtt | p99 at the peer's peak rate, open loop, ${pairs} pairs (ms) | broke at ${broke ? `${fmt(broke.offered)} msg/s (p99 ${ms(broke.latency_ms.p99)} ms, ${fmt(broke.lost)} lost)` : 'a lower rate'} | ${ms(b.latency_ms.p99)} (${fmt(b.rate)} msg/s) | – | ≤ the peer's, at its rate | **no** |`);
          continue;
        }
        const cell = (l) => `${ms(l.latency_ms.p99)} (${fmt(l.rate)} of ${fmt(l.offered)} msg/s${l.lost ? `, ${fmt(l.lost)} lost` : ''})`;
        L.push(`| rtt | p99 at the peer's peak rate, open loop, ${pairs} pairs (ms; delivered of offered msg/s) | ${cell(a)} | ${cell(b)} | ${ratio(a.latency_ms.p99, b.latency_ms.p99)} | ≤ the peer's, at its rate | ${met ? 'yes' : !carried(a) ? '**no**: skein did not carry the rate' : '**no**'} |`);
      }
    }
    L.push(`| rtt | msg/s with p99 ≤ ${ms(rs.limit)} ms (a tenth of the peer's p99 at its peak) | ${rs.sAtLimit ? `${fmt(rs.sAtLimit.rate)} (${rs.sAtLimit.pairs} pairs)` : 'none'} | ${fmt(rs.pb.rate)} | ${rs.x ? `${fmt(rs.x, 2)}×` : '0×'} | | |`);
  } else {
    L.push(`| rtt | | ${na(S.rtt) ?? ''} | ${na(P.rtt) ?? ''} | | ≥ ${TARGETS.rttPeak}× | – |`);
  }
  if (fS && fP) {
    const subs = results.profile.fanout.subscribers;
    const cellF = (f) => (f.step ? `${fmt(f.deliveries_per_s)} (${f.step.rate})` : `< ${fmt(f.broke.rate * subs)} (broke at the lowest rate, ${f.broke.rate}/s)`);
    let x;
    let rx;
    if (fS.step && fP.step) { x = fS.deliveries_per_s / fP.deliveries_per_s; rx = ratio(fS.deliveries_per_s, fP.deliveries_per_s); }
    else if (fS.step) { x = fS.deliveries_per_s / (fP.broke.rate * subs); rx = `> ${fmt(x, 2)}×`; }
    else { x = 0; rx = '–'; }
    let metF = fS.step && !fP.step ? (x >= TARGETS.fanout ? 'yes' : 'undecided (the peer broke at the lowest rate)') : (x >= TARGETS.fanout ? 'yes' : '**no**');
    let targetF = `≥ ${TARGETS.fanout}×`;
    if (fanCeiling) {
      targetF = `≥ ${fmt(100 * TARGETS.fanoutCeiling)} % of the ceiling's ${fmt(fanCeiling)} (below ${TARGETS.fanout}× the peer)`;
      metF = fS.deliveries_per_s >= TARGETS.fanoutCeiling * fanCeiling ? 'yes' : '**no**';
    }
    L.push(`| fanout | deliveries/s with p99 ≤ 50 ms (publishes/s) | ${cellF(fS)} | ${cellF(fP)} | ${rx} | ${targetF} | ${metF} |`);
  } else {
    L.push(`| fanout | | ${na(S.fanout) ?? ''} | ${na(P.fanout) ?? ''} | | ≥ ${TARGETS.fanout}× | – |`);
  }
  if (!na(S.idle) || !na(P.idle)) {
    const si = na(S.idle) ? null : S.idle;
    const pi = na(P.idle) ? null : P.idle;
    L.push(`| idle | server RSS per connection (KiB), ${fmt(results.profile.idle.conns)} clients${results.profile.idle.kindOptions?.length ? ' (sessions hibernated)' : ''} | ${si ? fmt(si.per_conn_kib, 2) : na(S.idle)} | ${pi ? fmt(pi.per_conn_kib, 2) : na(P.idle)} | ${ratio(si?.per_conn_kib, pi?.per_conn_kib)} | ≤ ${TARGETS.idleKiB} KiB (skein) | ${si ? (si.per_conn_kib <= TARGETS.idleKiB && si.connected === si.conns ? 'yes' : '**no**') : '–'} |`);
  }
  for (const sc of ['held1', 'held6']) {
    const pr = results.profile[sc];
    if (!pr || (!S[sc] && !P[sc])) continue;
    const cell = (r) => (!r ? '–' : na(r) ? na(r) : `${fmt(r.still_connected)} of ${fmt(r.conns)}${r.failed ? `, ${fmt(r.failed)} failed` : ''}`);
    const sr = S[sc] && !na(S[sc]) ? S[sc] : null;
    L.push(`| connections | idle WebSockets held on ${pr.nodes} node${pr.nodes > 1 ? 's' : ''} | ${cell(S[sc])} | ${cell(P[sc])} | | ${fmt(pr.conns)} (skein) | ${sr ? (sr.held ? 'yes' : '**no**') : '–'} |`);
  }
  const lostOf = (r) => (r.late === undefined ? `${fmt(r.lost)} lost` : `${fmt(r.lost - r.late)} lost (${fmt(r.lost)} timed out)`);
  const fo = (r) => (na(r) ? na(r) : `${r.recover_s >= 0 ? `${fmt(r.recover_s, 2)} s` : '–'}${r.unrecovered_pairs ? ` (${r.unrecovered_pairs} pairs never recovered)` : ''}, ${lostOf(r)}`);
  L.push(`| failover | time until every pair delivers again; messages lost | ${fo(S.failover)} | ${fo(P.failover)} | | | |`);
  const mg = (r) => (na(r) ? na(r) : `p99 ${ms(r.latency_ms.p99)} ms, max ${ms(r.latency_ms.max)} ms, ${lostOf(r)}`);
  L.push(`| migrate | latency and loss while a node joins and another drains | ${mg(S.migrate)} | – | | | |`);
  L.push('');

  // every system's rtt peak side by side (skein-none, skein-async, skein-local: the cost of durability)
  const rttSystems = Object.entries(results.systems).filter(([, r]) => !na(r.rtt) && r.rtt.levels?.length);
  if (rttSystems.length > 2 || results.skein_args) {
    const peerPeak = na(P.rtt) || !P.rtt.levels?.length ? null : peakLevel(P.rtt.levels);
    L.push('### rtt peak of every system', '');
    if (results.skein_args) L.push(`skein systems launched with \`${results.skein_args.join(' ')}\`.`, '');
    L.push(`| system | peak msg/s (pairs) | p99 at the peak (ms) | p99 at the peer's peak pairs (ms) | server CPU µs per message at the peak | × Socket.IO peak |${cPeak ? ' of the ceiling |' : ''}`);
    L.push(`|---|---:|---:|---:|---:|---:|${cPeak ? '---:|' : ''}`);
    for (const [sys, r] of rttSystems) {
      const b = peakLevel(r.rtt.levels);
      const atPeer = peerPeak ? r.rtt.levels.find((l) => l.pairs === peerPeak.pairs) : null;
      const us = b.rate ? (b.server_cpu_pct / 100) * 1e6 / b.rate : null;
      L.push(`| ${sys} | ${fmt(b.rate)} (${b.pairs}) | ${ms(b.latency_ms.p99)} | ${ms(atPeer?.latency_ms.p99)} | ${fmt(us, 1)} | ${ratio(b.rate, peerPeak?.rate)} |${cPeak ? ` ${pct(b.rate, cPeak.rate)} |` : ''}`);
    }
    L.push('');
    // user and kernel time and context switches per message, at the same
    // load for every system (runs from before stop 56 did not record them)
    const split = rttSystems.map(([sys, r]) => [sys, peerPeak ? r.rtt.levels.find((l) => l.pairs === peerPeak.pairs) : null])
      .filter(([, l]) => l?.rate && l.server_kernel_cpu_pct != null);
    if (split.length) {
      L.push(`#### Server CPU per message in user code and in the kernel, at ${peerPeak.pairs} pairs`, '');
      L.push('The same load for every system (the peer\'s peak pairs). Kernel is the servers\' `stime` (system calls, TCP on loopback, scheduling; on this VM every entry into the kernel pays for the hypervisor\'s interrupt toggling as well), user is `utime`; context switches are voluntary + involuntary, summed over every server thread (`/proc/PID/task/*/status`).', '');
      L.push('| system | msg/s | server CPU µs per message | user µs | kernel µs (share) | context switches per message |');
      L.push('|---|---:|---:|---:|---:|---:|');
      for (const [sys, l] of split) {
        const all = cpuUs(l.server_cpu_pct, l.rate);
        const kern = cpuUs(l.server_kernel_cpu_pct, l.rate);
        L.push(`| ${sys} | ${fmt(l.rate)} | ${fmt(all, 1)} | ${fmt(all - kern, 1)} | ${fmt(kern, 1)} (${fmt(100 * kern / all, 0)} %) | ${fmt(l.server_switches_per_s / l.rate, 2)} |`);
      }
      L.push('');
    }
  }

  // every system's fanout, when more than skein and the peer ran it
  const fanSystems = Object.entries(results.systems).filter(([, r]) => !na(r.fanout) && r.fanout.steps?.length);
  if (fanSystems.length > 2) {
    const peerF = fP?.step ? fP.deliveries_per_s : null;
    L.push('### fanout of every system', '');
    L.push(`| system | deliveries/s with p99 ≤ 50 ms (publishes/s) | p99 there (ms) | server CPU µs per delivery there | × Socket.IO |${fC?.step ? ' of the ceiling |' : ''}`);
    L.push(`|---|---:|---:|---:|---:|${fC?.step ? '---:|' : ''}`);
    for (const [sys, r] of fanSystems) {
      const f = fanoutBest(r.fanout);
      const st = f.step;
      const us = st?.deliveries_per_s ? (st.server_cpu_pct / 100) * 1e6 / st.deliveries_per_s : null;
      L.push(`| ${sys} | ${st ? `${fmt(st.deliveries_per_s)} (${st.rate})` : `none (broke at ${f.broke.rate}/s)`} | ${ms(st?.latency_ms.p99)} | ${fmt(us, 1)} | ${ratio(st?.deliveries_per_s, peerF)} |${fC?.step ? ` ${pct(st?.deliveries_per_s, fC.deliveries_per_s)} |` : ''}`);
    }
    L.push('');
  }

  // skein as a fraction of the ceiling (issue 15: how close to this machine's limit the runtime is)
  if (cPeak || fC?.step) {
    L.push('### skein against this machine\'s ceiling', '');
    const parts = [];
    const sPeak = na(S.rtt) || !S.rtt.levels?.length ? null : peakLevel(S.rtt.levels);
    if (cPeak && sPeak) parts.push(`${pct(sPeak.rate, cPeak.rate)} of the ceiling's rtt peak (${fmt(sPeak.rate)} vs ${fmt(cPeak.rate)} msg/s)`);
    if (fC?.step && fS) parts.push(`${pct(fS.deliveries_per_s, fC.deliveries_per_s)} of its fanout (${fmt(fS.deliveries_per_s)} vs ${fmt(fC.deliveries_per_s)} deliveries/s with p99 ≤ 50 ms)`);
    if (parts.length) L.push(`**skein is ${parts.join(' and ')}.**`, '');
    L.push('The ceiling is one process with one io thread, so it uses at most one of the cores and its clients all reach it directly '
      + '(no hop between nodes); skein runs 3 nodes on the same cores. The table lists every skein system measured in this run.', '');
    L.push('| system | rtt peak msg/s (pairs) | of the ceiling | fanout deliveries/s (publishes/s) | of the ceiling |');
    L.push('|---|---:|---:|---:|---:|');
    const rows = Object.keys(results.systems).filter((k) => k.startsWith('skein') || k === 'ceiling');
    for (const sys of rows) {
      const r = results.systems[sys];
      const pk = na(r.rtt) || !r.rtt.levels?.length ? null : peakLevel(r.rtt.levels);
      const f = fanoutBest(r.fanout);
      L.push(`| ${sys} | ${pk ? `${fmt(pk.rate)} (${pk.pairs})` : na(r.rtt)} | ${pct(pk?.rate, cPeak?.rate)} | ${f?.step ? `${fmt(f.deliveries_per_s)} (${f.step.rate})` : (f ? '0' : na(r.fanout))} | ${f ? pct(f.deliveries_per_s, fC?.step ? fC.deliveries_per_s : null) : '–'} |`);
    }
    L.push('');
  }

  // What the machine leaves the servers at a target rate: its cores less
  // what the load generator needs there, at its cheapest CPU per message
  // among every system's rtt peak in this run; per message, beside what the
  // ceiling's server spent at its own peak.
  const budget = (rate) => {
    const peaks = Object.values(results.systems)
      .filter((r) => !na(r.rtt) && r.rtt.levels?.length)
      .map((r) => peakLevel(r.rtt.levels))
      .filter((l) => l.loadgen_cpu_pct != null && l.rate > 0);
    if (!peaks.length || !m.nproc) return '';
    const lgUs = Math.min(...peaks.map((l) => cpuUs(l.loadgen_cpu_pct, l.rate)));
    const lgPct = (rate * lgUs) / 1e4;
    const left = Math.max(0, m.nproc * 100 - lgPct);
    const cUs = cPeak ? cpuUs(cPeak.server_cpu_pct, cPeak.rate) : null;
    return ` At ${fmt(rate)} msg/s the load generator alone needs ${fmt(lgPct)} % CPU of the machine's ${m.nproc * 100} % `
      + `(${fmt(lgUs, 1)} µs per message, its cheapest in this run), which leaves the servers ${fmt((left * 1e4) / rate, 1)} µs per message`
      + (cUs != null ? `; the ceiling, one process with no cluster hop and no disk, spent ${fmt(cUs, 1)} at its peak.` : '.');
  };

  // missed targets
  const missed = [];
  if (rs && rs.sb.rate < TARGETS.rttPeak * rs.pb.rate) missed.push(`**rtt**: skein's peak is ${fmt(rs.sb.rate)} msg/s, ${ratio(rs.sb.rate, rs.pb.rate)} the peer's ${fmt(rs.pb.rate)} (target ${TARGETS.rttPeak}×), at p99 ${ms(rs.sb.latency_ms.p99)} ms, with the servers at ${fmt(rs.sb.server_cpu_pct)} % CPU (of 200 %).${budget(TARGETS.rttPeak * rs.pb.rate)}`);
  const pv = pacedVerdicts(results);
  if (pv) {
    const { lim, cS, cP, cN } = pv;
    if (cP && !(cS && cS.level.offered >= TARGETS.rttPeak * cP.level.offered))
      missed.push(`**rtt, open loop**: skein carried ${cS ? `${fmt(cS.level.offered)} msg/s (${cS.pairs} pairs)` : 'none of the rates'} with p99 ≤ ${lim} ms, the peer ${fmt(cP.level.offered)} (${cP.pairs} pairs): ${ratio(cS?.level.offered, cP.level.offered)} (target ${TARGETS.rttPeak}×).`);
    if (cP && cN && cN.level.offered < TARGETS.rttPeakNone * cP.level.offered)
      missed.push(`**rtt, open loop, durability none**: skein-none carried ${fmt(cN.level.offered)} msg/s (${cN.pairs} pairs) with p99 ≤ ${lim} ms: ${ratio(cN.level.offered, cP.level.offered)} the peer (target ${TARGETS.rttPeakNone}×).`);
    for (const { pairs, a, b, peerBroke, broke, brokeLower, met } of pv.atPeak) {
      if (!b) {
        if (brokeLower)
          missed.push(`**rtt, p99 at the peer's peak rate (open loop, ${pairs} pairs)**: the peer broke at ${fmt(peerBroke.offered)} msg/s, below its own closed-loop peak, and skein lower, at ${fmt(broke.offered)} msg/s.`);
        continue;
      }
      if (!a) missed.push(`**rtt, p99 at the peer's peak rate (open loop, ${pairs} pairs)**: skein broke below the peer's peak rate (${fmt(b.offered)} msg/s).`);
      else if (!met)
        missed.push(`**rtt, p99 at the peer's peak rate (open loop, ${pairs} pairs)**: offered ${fmt(a.offered)} msg/s, skein delivered ${fmt(a.rate)} with p99 ${ms(a.latency_ms.p99)} ms${a.lost ? ` and ${fmt(a.lost)} lost` : ''}; the peer ${fmt(b.rate)} with p99 ${ms(b.latency_ms.p99)} ms.`);
    }
  } else if (rs) {
    const at = S.rtt.levels.find((l) => l.pairs === rs.pb.pairs);
    if (at && !(at.rate >= rs.pb.rate && at.latency_ms.p99 <= rs.pb.latency_ms.p99))
      missed.push(`**rtt, p99 at the peer's peak rate**: the peer peaks at ${fmt(rs.pb.rate)} msg/s (${rs.pb.pairs} pairs, p99 ${ms(rs.pb.latency_ms.p99)} ms); at ${rs.pb.pairs} pairs skein ran ${fmt(at.rate)} msg/s with p99 ${ms(at.latency_ms.p99)} ms${rs.sb.rate < rs.pb.rate ? `; its own peak (${fmt(rs.sb.rate)} msg/s) is below the peer's rate` : ''}.`);
  }
  const noneRtt = results.systems['skein-none']?.rtt;
  if (rs && !na(noneRtt) && noneRtt.levels?.length) {
    const nb = peakLevel(noneRtt.levels);
    const want = TARGETS.rttPeakNone * rs.pb.rate;
    if (nb.rate < want) {
      // The target against what the smallest server reached on the same cores in the same run.
      const above = cPeak && want > cPeak.rate
        ? ` That is above the ceiling's own peak in this run (${fmt(cPeak.rate)} msg/s, ${ratio(cPeak.rate, rs.pb.rate)} the peer): `
          + 'no server of any shape has been measured that fast on these two cores with the load generator beside it.'
        : '';
      missed.push(`**rtt, durability none**: skein-none's peak is ${fmt(nb.rate)} msg/s, ${ratio(nb.rate, rs.pb.rate)} the peer's (target ${TARGETS.rttPeakNone}×, ${fmt(want)} msg/s).${above}${budget(want)}`);
    }
  }
  if (fS && fP && fP.step && fanCeiling && fS.deliveries_per_s < TARGETS.fanoutCeiling * fanCeiling) missed.push(`**fanout**: ${pct(fS.deliveries_per_s, fanCeiling)} of the ceiling's deliveries per second under the 50 ms p99 limit (target ${fmt(100 * TARGETS.fanoutCeiling)} %, since the ceiling is below ${TARGETS.fanout}× the peer).`);
  else if (fS && fP && fP.step && !fanCeiling && fS.deliveries_per_s / fP.deliveries_per_s < TARGETS.fanout) missed.push(`**fanout**: ${ratio(fS.deliveries_per_s, fP.deliveries_per_s)} the peer's deliveries per second under the 50 ms p99 limit (target ${TARGETS.fanout}×).`);
  for (const sc of ['held1', 'held6']) {
    const r = S[sc];
    if (r && !na(r) && !r.held) missed.push(`**connections**: ${fmt(r.still_connected)} of ${fmt(r.conns)} idle WebSockets held on ${r.nodes} node(s) (${fmt(r.failed)} failed).`);
  }
  if (!na(S.idle) && !(S.idle.per_conn_kib <= TARGETS.idleKiB)) missed.push(`**idle**: ${fmt(S.idle.per_conn_kib, 2)} KiB of server RSS per idle connection (target ≤ ${TARGETS.idleKiB} KiB).`);
  if (missed.length) {
    L.push('### Where skein misses its targets', '');
    for (const x of missed) L.push(`- ${x}`);
    L.push('');
  }
  for (const p of plots) L.push(`![${p}](${relPlot(p)})`, '');

  // rtt detail
  L.push('## rtt', '');
  L.push(`Pairs of clients, each pair in its own room (skein: session \`chat/ROOM\`), the two clients on different nodes `
    + `(client a on node i mod 3, b on node i+1 mod 3). a says, waits until b received it, b says, and so on: `
    + `one message in flight per pair. Latency is from the \`say\` frame being written to the peer's \`said\` frame being read `
    + `(both clients are in the loadgen process, same clock). msg/s counts messages delivered to the peer (each is also echoed to its sender, as the chat behaviour broadcasts to the whole room). `
    + `The clients of all ${Math.max(...results.profile.rtt.levels)} pairs stay connected throughout (the pairs above the level idle), so RSS includes them. `
    + `${results.profile.rtt.warmup} s warm-up, then ${results.profile.rtt.duration} s measured per level. CPU is in % of one core (the machine has ${m.nproc}); `
    + `"other" is CPU used by processes outside the benchmark during the window.`, '');
  const rttRow = (l) => (l ? `${fmt(l.rate)} | ${ms(l.latency_ms.p50)} / ${ms(l.latency_ms.p99)} / ${ms(l.latency_ms.p999)} | ${fmt(l.server_cpu_pct)} (${fmt(cpuUs(l.server_cpu_pct, l.rate), 1)}) / ${mib(l.server_rss_kb)} | ${fmt(l.loadgen_cpu_pct)} / ${fmt(l.other_cpu_pct)}` : '– | – | – | –');
  L.push('| pairs | skein msg/s | skein p50 / p99 / p999 ms | skein CPU % (µs per msg) / RSS MiB | loadgen / other CPU % | Socket.IO msg/s | Socket.IO p50 / p99 / p999 ms | Socket.IO CPU % (µs per msg) / RSS MiB | loadgen / other CPU % | msg/s ratio |');
  L.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const levels = [...new Set([...(S.rtt?.levels ?? []), ...(P.rtt?.levels ?? [])].map((l) => l.pairs))].sort((a, b) => a - b);
  for (const n of levels) {
    const a = S.rtt?.levels?.find((l) => l.pairs === n);
    const b = P.rtt?.levels?.find((l) => l.pairs === n);
    L.push(`| ${n} | ${rttRow(a)} | ${rttRow(b)} | ${ratio(a?.rate, b?.rate)} |`);
  }
  if (na(S.rtt) || na(P.rtt)) L.push('', `skein: ${na(S.rtt) ?? 'ok'}; Socket.IO: ${na(P.rtt) ?? 'ok'}`);
  const lost = [S.rtt, P.rtt].map((r) => (na(r) ? 0 : r.levels.reduce((s, l) => s + l.lost + l.errors, 0)));
  L.push('', `Lost or failed messages: skein ${lost[0]}, Socket.IO ${lost[1]}.`, '');
  otherSystems('rtt', 'the ceiling is one process: both clients of a pair reach the same server',
    ['pairs', 'msg/s', 'p50 / p99 / p999 ms', 'CPU % (µs per msg) / RSS MiB', 'loadgen / other CPU %', 'lost + errors'],
    (r) => r.levels.map((l) => `${l.pairs} | ${rttRow(l)} | ${fmt(l.lost + l.errors)}`));

  // paced detail
  const pacedSystems = Object.keys(results.systems).filter((k) => results.systems[k].paced);
  if (pacedSystems.length) {
    const pp = results.profile.paced;
    const base = pacedSystems.map((k) => results.systems[k].paced.base).find(Boolean);
    L.push('## rtt at a fixed rate (open loop)', '');
    L.push(`rtt's pairs (each in its own room, a's client on node i mod 3, b's on i+1 mod 3), but open loop, as wrk2 measures: `
      + `every system is offered the same msg/s, ${(pacedSystems.map((k) => results.systems[k].paced.fractions).find(Boolean) ?? pp.fractions).map((f) => `${f}×`).join(', ')} of ${base ? `${fmt(base.rate)} msg/s (${base.from})` : 'the peer\'s rtt peak'}, `
      + 'sent on a fixed schedule over the pairs (a\'s and b\'s turns alternating) whatever the replies, and a message\'s latency counts from when it was due, '
      + 'so a server that falls behind shows it in the latency instead of slowing the load (coordinated omission). '
      + `${pp.warmup} s warm-up, then ${pp.duration} s measured per rate; msg/s counts the messages due in the window that reached the other client of their pair; `
      + `a message not there after ${pp.msgTimeout} s, or overtaken by a later one of its pair and direction, is lost. `
      + 'Issue 15\'s "p99 at the peer\'s peak rate" is the row at 1× for skein against the peer. `bench/run --full` runs it (`--only paced` alone: `--paced-base MSG_S`, or the peer\'s peak on the page).', '');
    for (const pairs of pp.pairs) {
      L.push(`### ${fmt(pairs)} pairs`, '');
      L.push('| system | offered msg/s (× base) | delivered msg/s | p50 / p99 / p999 ms | lost | server CPU % (µs per msg) | loadgen / other CPU % |');
      L.push('|---|---:|---:|---:|---:|---:|---:|');
      for (const sys of pacedSystems) {
        const r = results.systems[sys].paced;
        if (na(r)) { L.push(`| ${sys} | ${na(r)} | | | | | |`); continue; }
        const run = r.runs.find((x) => x.pairs === pairs);
        for (const l of run?.levels ?? [])
          L.push(`| ${sys} | ${fmt(l.offered)} (${l.fraction}×) | ${fmt(l.rate)}${l.broken ? ' (broke)' : ''} | ${ms(l.latency_ms.p50)} / ${ms(l.latency_ms.p99)} / ${ms(l.latency_ms.p999)} | ${fmt(l.lost)} | ${fmt(l.server_cpu_pct)} (${fmt(cpuUs(l.server_cpu_pct, l.rate), 1)}) | ${fmt(l.loadgen_cpu_pct)} / ${fmt(l.other_cpu_pct)} |`);
      }
      L.push('');
      // The same offered load for every system: the highest rate all of
      // them carried unbroken at these pairs, split as rtt's table at the
      // peer's peak pairs is (user, kernel, context switches per message).
      const runsHere = pacedSystems.map((k) => ({ sys: k, run: na(results.systems[k].paced) ? null : results.systems[k].paced.runs.find((x) => x.pairs === pairs) }));
      const ran = runsHere.every((x) => x.run?.levels.length);
      const carriedByAll = ran ? runsHere[0].run.levels.map((l) => l.fraction)
        .filter((f) => runsHere.every((x) => x.run.levels.some((l) => l.fraction === f && !l.broken))).pop() : undefined;
      // None carried by all: the lowest rate, where every system ran.
      const common = carriedByAll ?? (ran ? runsHere[0].run.levels[0].fraction : undefined);
      if (common !== undefined && runsHere.every((x) => x.run.levels.some((l) => l.fraction === common))) {
        L.push(`Server CPU per message at the same load, ${fmt(common * (base?.rate ?? 0))} msg/s offered (${common}×, `
          + `${carriedByAll !== undefined ? 'the highest rate every system carried' : 'the lowest rate; not every system carried it'} at ${fmt(pairs)} pairs). `
          + 'Below its capacity a server\'s threads sleep and wake between messages, and on 2 shared cores each system takes most of '
          + 'the CPU it is given, so these are what each spends at this load, not its least cost per message: that shows in how far each '
          + 'one\'s capacity reaches (the tables above).', '');
        L.push('| system | server CPU µs per message | user µs | kernel µs | context switches per message | p99 ms |');
        L.push('|---|---:|---:|---:|---:|---:|');
        for (const { sys, run } of runsHere) {
          const l = run.levels.find((x) => x.fraction === common);
          const all = cpuUs(l.server_cpu_pct, l.rate);
          const k = cpuUs(l.server_kernel_cpu_pct, l.rate);
          L.push(`| ${sys} | ${fmt(all, 1)} | ${fmt(all - k, 1)} | ${fmt(k, 1)} | ${fmt(l.server_switches_per_s / l.rate, 2)} | ${ms(l.latency_ms.p99)}${l.broken ? ' (broke)' : ''} |`);
        }
        L.push('');
      }
    }
  }

  // fanout detail
  L.push('## fanout', '');
  L.push(`One room, ${results.profile.fanout.subscribers} subscribers spread over the 3 nodes, one publisher (on the first node) `
    + `saying at a fixed rate (open loop: a message's latency counts from when it was due, so a server that falls behind shows it). `
    + `Each rate runs ${results.profile.fanout.step} s, or longer at low rates so that at least ${results.profile.fanout.minMessages ?? 50} measured messages are published `
    + `(the first ${results.profile.fanout.stepWarmup} s are unmeasured); the rates go up until p99 passes 50 ms `
    + `or fewer than 99 % of the deliveries arrive within 3 s after the step.`, '');
  L.push('| publishes/s | offered deliveries/s | skein deliveries/s | skein p50 / p99 ms | skein CPU % (µs per delivery) | Socket.IO deliveries/s | Socket.IO p50 / p99 ms | Socket.IO CPU % (µs per delivery) |');
  L.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
  const rates = [...new Set([...(S.fanout?.steps ?? []), ...(P.fanout?.steps ?? [])].map((st) => st.rate))].sort((a, b) => a - b);
  const fanRow = (st) => (st ? `${fmt(st.deliveries_per_s)}${st.broken ? ' (broke)' : ''} | ${ms(st.latency_ms.p50)} / ${ms(st.latency_ms.p99)} | ${fmt(st.server_cpu_pct)} (${fmt(cpuUs(st.server_cpu_pct, st.deliveries_per_s), 1)})` : '– | – | –');
  for (const r of rates) {
    const a = S.fanout?.steps?.find((st) => st.rate === r);
    const b = P.fanout?.steps?.find((st) => st.rate === r);
    L.push(`| ${r} | ${fmt(r * results.profile.fanout.subscribers)} | ${fanRow(a)} | ${fanRow(b)} |`);
  }
  if (na(S.fanout) || na(P.fanout)) L.push('', `skein: ${na(S.fanout) ?? 'ok'}; Socket.IO: ${na(P.fanout) ?? 'ok'}`);
  L.push('');
  otherSystems('fanout', 'the ceiling: every subscriber on its one process',
    ['publishes/s', 'deliveries/s', 'p50 / p99 ms', 'CPU % (µs per delivery)'],
    (r) => r.steps.map((st) => `${st.rate} | ${fanRow(st)}`));

  // idle detail
  L.push('## idle', '');
  L.push(`${fmt(results.profile.idle.conns)} clients, each in its own room/session, spread over the 3 nodes from `
    + `${Math.ceil(results.profile.idle.conns / 16000)} loadgen process(es) (source addresses 127.0.0.2 and up, \`IP_BIND_ADDRESS_NO_PORT\`). `
    + `RSS per connection = (sum of the servers' VmRSS ${results.profile.idle.settle} s after the last connect − before the first) / connections. `
    + `skein's figure includes the connection actor, the session actor and its journal entry; Socket.IO's the socket and its room.`
    + (results.profile.idle.kindOptions?.length
      ? ` skein systems run this scenario with ${results.profile.idle.kindOptions.map((o) => `\`--kind-option ${o}\``).join(', ')}: `
        + 'every session hibernates (a snapshot, then its actor stops while its clients\' streams stay open) before the measure, '
        + 'as issue 15 allows a short idle time (see "Lever: hibernation" below); the demo\'s default hibernates after 30 s.'
      : ''), '');
  // skein and the peer, then any other system that ran idle
  const idleCols = [['skein', S.idle], ['Socket.IO + redis', P.idle],
    ...others(results).filter((k) => results.systems[k].idle).map((k) => [k, results.systems[k].idle])];
  L.push(`| | ${idleCols.map(([h]) => h).join(' | ')} |`);
  L.push(`|---|${idleCols.map(() => '---:|').join('')}`);
  const idle = (r, f) => (na(r) ? na(r) : f(r));
  const idleRow = (label, f) => L.push(`| ${label} | ${idleCols.map(([, r]) => idle(r, f)).join(' | ')} |`);
  idleRow('connected / asked', (r) => `${fmt(r.connected)} / ${fmt(r.conns)}`);
  idleRow('connect time (connects/s; failed attempts, retried)', (r) => `${fmt(r.connect_s, 1)} s (${fmt(r.connects_per_s)}; ${fmt(r.connect_failures)})`);
  idleRow('server RSS before → after (MiB)', (r) => `${mib(r.rss_before_kb)} → ${mib(r.rss_after_kb)}`);
  idleRow('RSS per connection (KiB)', (r) => fmt(r.per_conn_kib, 2));
  idleRow('server CPU while idle (% of one core)', (r) => fmt(r.idle_cpu_pct, 1));
  idleRow('still connected at the end', (r) => fmt(r.still_connected));
  L.push('');
  for (const [h, r] of idleCols) {
    if (!na(r) && r.capped_from) L.push(`${h}: ${fmt(r.conns)} clients instead of ${fmt(r.capped_from)}: one process holds at most \`ulimit -n\` descriptors.`, '');
  }
  const sr = !na(S.idle) && S.idle.shared_rooms;
  if (sr) {
    const rest = S.idle.per_conn_kib - sr.per_conn_kib;
    const sessionShare = results.profile.idle.kindOptions?.length
      ? '(a hibernated session: its clients\' entry in the directory and its records in the memtable; no actor).'
      : '(session actor with its chat state, directory entry, journal entry in the memtable).';
    L.push(`Split of skein's figure: with ${fmt(sr.connected)} clients sharing ${sr.rooms} rooms (so almost no sessions), `
      + `the servers grow by ${fmt(sr.per_conn_kib, 2)} KiB per connection: that is the connection's share (WebSocket stream, `
      + 'connection actor, buffers)'
      + (rest >= 0
        ? `; the remaining ${fmt(rest, 2)} KiB is the session's ${sessionShare}`
        // The growth that does not scale with the clients (memtables filling
        // up to their cap, thread caches) is divided by fewer clients here.
        : `, more than the whole figure with ${fmt(S.idle.connected)} clients: what grows once per node whatever the number of clients `
          + `(the memtables filling up to their cap of 16 MiB per node, caches) weighs ${fmt(S.idle.connected / sr.connected, 0)}× more per `
          + 'connection at the smaller count, so the session\'s share is too small to read off as a difference here.'), '');
  }

  // connections held (held1, held6)
  const heldCols = Object.entries(results.systems).flatMap(([k, r]) => ['held1', 'held6'].filter((sc) => r[sc] && !na(r[sc])).map((sc) => [k, sc, r[sc]]));
  if (heldCols.length) {
    L.push('## connections held', '');
    L.push('The idle scenario\'s clients (each in its own room/session, one loadgen process per 16,000, source addresses 127.0.0.2 and up) '
      + 'on a cluster of 1 node (`held1`: a process may hold 20,000 descriptors here) and of 6 nodes (`held6`), all on this one machine; '
      + 'held = still connected when the loadgen stops, after the settle time.', '');
    L.push('| system | nodes | asked | connected | still connected | connect time (connects/s) | RSS per connection (KiB) | server RSS after (MiB) |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const [k, , r] of heldCols)
      L.push(`| ${k} | ${r.nodes} | ${fmt(r.conns)} | ${fmt(r.connected)} | ${fmt(r.still_connected)} | ${fmt(r.connect_s, 1)} s (${fmt(r.connects_per_s)}) | ${fmt(r.per_conn_kib, 2)} | ${mib(r.rss_after_kb)} |`);
    L.push('');
  }

  // failover + migrate
  L.push('## failover and migrate', '');  // failover + migrate
  L.push(`failover: rtt with ${results.profile.failover.pairs} pairs; ${results.profile.failover.at} s into the window the second node is killed with SIGKILL. `
    + 'Clients whose connection ends reconnect to the next node (50 ms backoff, growing). A skein client resumes '
    + '(`?client=ID&last_seq=N`: the server replays what it missed from the outbox); a Socket.IO client has no such thing, so '
    + 'a message in flight to or from a client that had to reconnect is lost, and the pair sends a new one as soon as both are back. '
    + `A message not delivered within ${results.profile.failover.msgTimeout} s times out and the pair sends a new one; `
    + 'one that still arrives before the window ends was late, one that never does was lost '
    + '(for skein: a message the resume did not bring back and the client did not send again). '
    + 'skein clients here send with message ids and send what was not acknowledged again after a reconnect, '
    + 'as @skein/client does (`skein-loadgen --ids`). '
    + 'Recovery = from the kill until every pair has delivered a message sent after the kill and after its clients last lost their connection (for skein this includes the supervised restart of the killed node and its wait for a quorum lease, about 4.5 s). '
    + `migrate (skein only): the same load with ${results.profile.migrate.pairs} pairs while a 4th node joins (\`launch --add-node\`, `
    + `${results.profile.migrate.joinAt} s in) and the second node drains (\`ctl drain\`, ${results.profile.migrate.drainAt} s in); `
    + 'recovery counts from the drain. CPU and RSS columns do not include the joining node.', '');
  // skein and the peer, then the other systems that were part of the run
  // (a system that cannot fail over shows why in a note)
  const foCols = [['skein failover', S.failover], ['Socket.IO failover', P.failover],
    ...others(results).filter((k) => results.systems[k].failover).map((k) => [`${k} failover`, results.systems[k].failover]),
    ['skein migrate', S.migrate],
    ...others(results).filter((k) => k.startsWith('skein') && results.systems[k].migrate).map((k) => [`${k} migrate`, results.systems[k].migrate])];
  L.push(`| | ${foCols.map(([h]) => h).join(' | ')} |`);
  L.push(`|---|${foCols.map(() => '---:|').join('')}`);
  const cols = foCols.map(([, r]) => r);
  const notes = [];
  const cell = (r, f) => {
    const why = na(r);
    if (!why) return f(r);
    let i = notes.indexOf(why);
    if (i < 0) i = notes.push(why) - 1;
    return `n/a (${i + 1})`;
  };
  const row = (label, f) => L.push(`| ${label} | ${cols.map((r) => cell(r, f)).join(' | ')} |`);
  row('recovery (kill → every pair delivers again)', (r) => `${fmt(r.recover_s, 2)} s${r.unrecovered_pairs ? `, ${r.unrecovered_pairs} pairs never` : ''}`);
  // `lost` counts every message given up on (timed out, or in flight to a
  // client that came back without resume); `late` (loadgen since stop 45)
  // those of them that arrived after all.
  row('messages timed out / never delivered / reconnects', (r) => `${fmt(r.lost)} / ${r.late === undefined ? '–' : fmt(r.lost - r.late)} / ${fmt(r.reconnects)}`);
  row('msg/s over the window', (r) => fmt(r.rate));
  row('p50 / p99 / max latency (ms)', (r) => `${ms(r.latency_ms.p50)} / ${ms(r.latency_ms.p99)} / ${ms(r.latency_ms.max)}`);
  L.push('');
  notes.forEach((n, i) => L.push(`(${i + 1}) ${n.replace(/^not available \((.*)\)$/, '$1')}.`, ''));

  // profile
  const hp = results.hot_path;
  if (hp) {
    L.push('## Where skein\'s time goes', '');
    if (!hp.available) {
      L.push(`No profile: ${hp.reason}.`, '');
    } else {
      L.push(`\`${hp.command}\`${hp.rtt ? ` (${fmt(hp.rtt.rate)} msg/s, p99 ${ms(hp.rtt.p99)} ms, servers at ${fmt(hp.rtt.server_cpu_pct)} % CPU)` : ''}. `
        + 'Share of the node\'s on-CPU samples spent in each part, callees included (the parts nest and overlap, so they do not add up to 100 %):', '');
      L.push('| part | samples |', '|---|---:|');
      for (const b of hp.buckets) L.push(`| ${b.label} | ${fmt(b.pct, 1)} % |`);
      if (hp.self_sums) {
        L.push('', 'Self time by kind of code:', '', '| code | samples |', '|---|---:|');
        for (const b of hp.self_sums) L.push(`| ${b.label} | ${fmt(b.pct, 1)} % |`);
      }
      L.push('', 'Top functions by self time:', '', '| self | function |', '|---:|---|');
      for (const t of hp.top_self) L.push(`| ${fmt(t.pct, 1)} % | ${t.kernel ? '[kernel] ' : ''}\`${t.sym.replace(/\|/g, '\\|')}\` |`);
      L.push('');
      const th = hp.threads;
      if (th?.messages > 0) {
        L.push(`By thread, on all ${th.nodes} nodes (\`${th.command}\`; ${fmt(th.messages)} client messages in ${th.seconds} s). `
          + 'CAF 0.17 names its workers and its BASP middleman alike; the middleman is the one found in epoll_wait. '
          + 'Per client message:', '');
        L.push('| thread | CPU µs | system calls | context switches |', '|---|---:|---:|---:|');
        const cell = (x, d) => (x === null || x === undefined ? '–' : fmt(x, d));
        for (const t of [...th.threads.filter((t) => t.cpu_us >= 0.5), th.total])
          L.push(`| ${t.kind === 'all' ? '**all**' : t.kind} | ${cell(t.cpu_us, 1)} | ${cell(t.syscalls, 2)} | ${cell(t.switches, 2)} |`);
        L.push('', `Store batches per client message: ${cell(th.store_batches, 2)}; RocksDB writes per client message: ${cell(th.rocksdb_writes, 3)}.`, '');
      }
    }
  }

  // method
  L.push('## How it is measured', '');
  L.push('- `bench/run --quick` (under 5 minutes) or `bench/run --full` (about 60 minutes with its five systems, 80 with all seven; measured 2026-12-06) installs what is missing '
    + '(redis-server, gnuplot, the pinned npm packages of `bench/peers/socketio`), builds `skein-demo`, `skein-loadgen` and `skein-bench-ceiling`, '
    + 'and runs every scenario on a fresh cluster of each system: skein with `skein-demo launch --nodes 3` (the demo\'s defaults: '
    + 'the chat kind uses `durability=replicated` with 2 replicas: every message is journaled to RocksDB on its owner and its replica '
    + 'and released only after both have it, no fsync), then the peer with '
    + '`bench/peers/socketio/launch.js` (redis-server without persistence, 3 × `node server.js`). Options: `--only rtt,fanout`, '
    + '`--systems skein`, `--build-dir DIR`; `node bench/lib/report.mjs docs/bench/results.json` rewrites this page from saved numbers.');
  L.push('- The load generator speaks both protocols with the same code path: skein\'s `/ws/chat/{room}?user=U` frames and '
    + 'Socket.IO v5 over Engine.IO v4 WebSocket (`0{...}` open, `40` connect, `42["say",{...}]`/`42["said",{...}]`, ping `2` → pong `3`). '
    + 'One io_context per thread, asynchronous Beast clients, source addresses from 127.0.0.0/8.');
  L.push('- Latency percentiles come from a log-linear histogram (64 sub-buckets per power of two, < 1.6 % error). '
    + 'Server CPU is the utime+stime delta of every server process (/proc/PID/stat) over the measured window, with its kernel part (stime) '
    + 'and the context switches of every server thread (/proc/PID/task/*/status) recorded beside it; RSS is VmRSS at its end; '
    + 'for Socket.IO all of these include redis-server.');
  if (results.profile.paced)
    L.push('- rtt is a closed loop: each pair has one message in flight and sends the next when the last arrived, so its msg/s is what a '
      + 'fixed number of waiting clients gets, and a slow reply slows the load instead of showing in the latency. `paced` (since stop 64) '
      + 'is its open-loop form: a fixed offered msg/s, latency from when each message was due, and each system\'s capacity '
      + 'is the highest offered rate it carried with p99 within the limit. The two readings need not agree (a closed loop never '
      + 'offers more than the server answers; an open loop queues what it cannot), so the summary reads the targets both ways.');
  const rep = Object.entries(results.profile).filter(([, v]) => (v.repeat ?? 1) > 1).map(([k]) => k);
  if (rep.length) L.push(`- ${rep.map((k) => `${k} ran ${results.profile[k].repeat} times`).join(' and ')} per system, alternating skein and the peer; `
    + 'the tables show, per system, the better run (rtt: higher geometric mean of msg/s over the levels; fanout: more deliveries/s under the limit), '
    + 'since other processes only ever make a run worse. Every run is in results.json (`all_runs`).');
  L.push('- On a shared 2-core machine the fanout latency at low rates is mostly scheduling: a delivery passes through 3 to 5 '
    + 'processes (load generator, nodes, redis), each of which may wait for a time slice while other processes run, so a p99 '
    + 'limit of 50 ms sits close to the noise; compare the two systems within one run, not across runs.');
  L.push('- The servers, the load generator and whatever else runs on the machine share its cores: the tables show the '
    + 'load generator\'s CPU and the CPU of other processes during each window. Numbers from a busy machine move by tens of percent between runs.');
  if (results.systems['skein-none'] || results.systems['skein-async'])
    L.push('- `skein-none` and `skein-async` are skein with `--kind-option chat.durability=none` / `async`. Since stop 44 (skein 840e031) `none` writes and replicates nothing (the state and the last events for resumes live in the session activation; a handoff carries them, a crash loses them), and `async` is what `none` was before: outputs at once, the journal and outbox written and replicated behind them. A skein-none row merged from a run before that commit (see the merge notes at the top: fanout, idle and the connection counts) measured the old meaning.');
  if (results.systems['socketio-durable']) L.push('- `socketio-durable` is `bench/peers/socketio/launch.js --durable`: redis-server with `--appendonly yes --appendfsync everysec` '
    + '(its AOF in a temporary directory), and each `server.js --durable` uses `@socket.io/redis-streams-adapter` (every broadcast is an XADD '
    + 'to one redis stream that every node reads with XREAD) with `connectionStateRecovery` (2 minutes). The load generator does not present '
    + 'a Socket.IO session id on reconnect, so its failover shows what recovery costs, not what it restores.');
  if (results.systems.ceiling) L.push('- `ceiling` is `skein-bench-ceiling` (bench/ceiling/ceiling.cpp): one process, one io_context on one thread, '
    + 'Beast WebSocket streams, rooms and their last 50 messages in memory, one serialized frame shared by every receiver of a broadcast. '
    + 'It speaks skein\'s chat protocol as the load generator uses it (welcome, history, said with per-room seq, acks for `{"id","data"}`, '
    + 'reset on a resume, since it keeps nothing to replay); failover and migrate skip it (no cluster), and the idle scenario asks it for at most 18,000 clients.');
  L.push('- What differs: skein persists every chat input (journal + outbox in RocksDB, replicated to a second node) and keeps each room\'s last 50 messages, '
    + 'which it sends on join; the Socket.IO server keeps nothing, and its adapter is pub/sub through redis. A skein message '
    + 'goes from the sender\'s node to the room\'s owner node (HRW placement) and from there to each receiver\'s node (0 to 2 cluster hops); '
    + 'a Socket.IO message goes from the sender\'s node through redis to every node.');
  L.push('');
  // What follows the marker in the page being replaced (hand-written
  // measurements of single levers) is carried over.
  const page = path.join(outDir, 'benchmarks.md');
  const old = fs.existsSync(page) ? fs.readFileSync(page, 'utf8') : '';
  const at = old.indexOf(KEEP_MARKER);
  const kept = at >= 0 ? old.slice(at) : `${KEEP_MARKER}\n`;
  fs.writeFileSync(page, `${L.join('\n')}\n${kept}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? path.join(repo, 'docs/bench/results.json');
  const results = JSON.parse(fs.readFileSync(file, 'utf8'));
  const outDir = path.resolve(repo, process.argv[3] ?? 'docs');
  writeReport(results, { outDir, plotDir: path.join(outDir, 'bench'), workDir: os.tmpdir() });
  console.error(`wrote ${path.join(outDir, 'benchmarks.md')}`);
}
