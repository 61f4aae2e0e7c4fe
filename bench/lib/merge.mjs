#!/usr/bin/env node
// Merges the scenarios of a second bench run into a first one's results and
// rewrites the report from the merged numbers:
//
//   node bench/lib/merge.mjs BASE/bench/results.json EXTRA/bench/results.json [OUT_DIR (default docs)]
//
// Every scenario EXTRA measured replaces BASE's for that system, with
// EXTRA's profile entry and its runs (all_runs) for it, and a rerun of rtt
// brings its perf profile (hot_path); the merged results record which scenarios
// came from which run (`merged`: started, commit and scenarios of EXTRA).
// For a scenario rerun alone (e.g. --only held1,held6 after a --full run);
// compare within one run only, the machine moves between runs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReport } from './report.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [baseFile, extraFile, out = 'docs'] = process.argv.slice(2);
if (!baseFile || !extraFile) {
  console.error('usage: node bench/lib/merge.mjs BASE_results.json EXTRA_results.json [OUT_DIR]');
  process.exit(2);
}
const base = JSON.parse(fs.readFileSync(baseFile, 'utf8'));
const extra = JSON.parse(fs.readFileSync(extraFile, 'utf8'));
const scenarios = new Set();
for (const [sys, runs] of Object.entries(extra.systems)) {
  base.systems[sys] ??= {};
  for (const [scenario, r] of Object.entries(runs)) {
    base.systems[sys][scenario] = r;
    base.profile[scenario] = extra.profile[scenario];
    if (extra.all_runs?.[sys]?.[scenario]) {
      base.all_runs ??= {};
      base.all_runs[sys] ??= {};
      base.all_runs[sys][scenario] = extra.all_runs[sys][scenario];
    }
    scenarios.add(scenario);
  }
}
// The perf profile is taken during rtt (run.mjs): it goes with that scenario.
if (scenarios.has('rtt') && extra.hot_path) base.hot_path = extra.hot_path;
// An earlier merge whose scenarios this one replaces is no longer on the page.
base.merged = (base.merged ?? []).map((m) => ({ ...m, scenarios: m.scenarios.filter((x) => !scenarios.has(x)) }))
  .filter((m) => m.scenarios.length > 0);
base.merged.push({ started: extra.started, commit: extra.machine?.commit, date: extra.machine?.date, scenarios: [...scenarios] });
const outDir = path.resolve(repo, out);
const plotDir = path.join(outDir, 'bench');
fs.mkdirSync(plotDir, { recursive: true });
fs.writeFileSync(path.join(plotDir, 'results.json'), `${JSON.stringify(base, null, 1)}\n`);
writeReport(base, { outDir, plotDir, workDir: os.tmpdir() });
console.error(`merged ${[...scenarios].join(', ')} into ${path.join(plotDir, 'results.json')}; wrote ${path.join(outDir, 'benchmarks.md')}`);
