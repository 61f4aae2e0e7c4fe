// Reads every stopped node's RocksDB with `skein-demo inspect --records
// --json` (every session's records, one JSON line each) for the checker's
// journal-chain check.

import { jsonLines, runTool } from '../cluster/node.mjs';

/** dirs: [{name, dir}] -> [{node, sessions: {key: [{journal_seq, epoch, client, input, payload}]}, errors}] */
export async function readStores(bin, dirs) {
  const out = [];
  for (const { name, dir } of dirs) {
    const entry = { node: name, sessions: {}, errors: [] };
    const r = await runTool(bin, ['inspect', '--data', dir, '--records', '--json'], { timeoutMs: 120_000 });
    if (r.code !== 0 && r.code !== 4) {
      entry.errors.push(`inspect ${dir}: exit ${r.code}: ${r.stderr.slice(-500)}`);
    } else {
      for (const s of jsonLines(r.stdout, `inspect ${dir}`))
        if (Array.isArray(s.journal_records)) entry.sessions[s.session] = s.journal_records;
    }
    out.push(entry);
  }
  return out;
}
