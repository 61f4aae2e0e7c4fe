// MCP tool calls per second: skein (one node; three nodes behind round-robin
// nginx) vs the TypeScript SDK's stateful server (one process).
//
//   SKEIN_DEMO=build/bin/skein-demo node bench/mcp/bench.mjs \
//     [--targets skein1,skein3-nginx,sdk-json,sdk-sse] [--sessions 32] [--seconds 10]
//
// Targets: skein1 (one node), skein1-nginx (one node behind nginx: the
// proxy's cost), skein3 (three nodes, the client itself round-robins the
// requests over the node URLs: every request is free to land anywhere),
// skein3-nginx (three nodes behind round-robin nginx), sdk-json / sdk-sse
// (the TypeScript SDK's stateful server, JSON or SSE answers to POSTs).
// Each of --sessions clients initializes its own MCP session, then calls
// tools/call test_simple_text back to back (one in flight per session) for
// --seconds, over keep-alive HTTP (undici). Prints one JSON line per target:
// calls/s and latency percentiles. Client and servers share this machine's
// cores, so the numbers compare the servers under the same load generator;
// they are not capacity figures.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import { mcpInitialize, mcpPost, startCluster } from '../../tests/mcp/lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const targets = arg('targets', 'skein1,skein1-nginx,skein3,skein3-nginx,sdk-json,sdk-sse').split(',');
const sessions = Number(arg('sessions', '32'));
const seconds = Number(arg('seconds', '10'));

function startSdk(mode) {
  const child = spawn(process.execPath, [path.join(here, 'sdk_server.mjs'), ...(mode === 'json' ? ['--json'] : [])],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const m = /^sdk (http:\/\/\S+)$/.exec(line);
      if (m) resolve({ url: m[1], stop: async () => { child.kill('SIGTERM'); } });
    });
    child.on('exit', (code) => reject(new Error(`sdk server exited ${code}`)));
  });
}

async function readResult(res) {
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  if (type.includes('application/json')) return JSON.parse(text);
  for (const line of text.split('\n'))  // SSE: the data line with the response
    if (line.startsWith('data: ') && line.includes('"result"')) return JSON.parse(line.slice(6));
  throw new Error(`no result in ${text}`);
}

async function run(urls) {
  let rr = 0;
  const pick = () => urls[rr++ % urls.length];
  const ids = await Promise.all(Array.from({ length: sessions }, () => mcpInitialize(pick(), { capabilities: {} })));
  const lat = [];
  let calls = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(ids.map(async (session, s) => {
    let id = 1;
    while (performance.now() < end) {
      const t0 = performance.now();
      const res = await mcpPost(pick(), { jsonrpc: '2.0', id: id++, method: 'tools/call',
        params: { name: 'test_simple_text', arguments: {} } }, { session, version: '2025-06-18' });
      const msg = await readResult(res);
      if (res.status !== 200 || !msg.result) { errors++; continue; }
      lat.push(performance.now() - t0);
      calls++;
    }
  }));
  lat.sort((a, b) => a - b);
  const q = (p) => lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2)) : null;
  return { calls_per_s: Math.round(calls / seconds), calls, errors, p50_ms: q(0.5), p99_ms: q(0.99) };
}

for (const target of targets) {
  let t;
  if (target === 'skein1') t = await startCluster({ nodes: 1 });
  else if (target === 'skein1-nginx') t = await startCluster({ nodes: 1, lb: true });
  else if (target === 'skein3') {
    t = await startCluster({ nodes: 3 });
    t.urls = t.nodes.map((n) => n.url);
  } else if (target === 'skein3-nginx') t = await startCluster({ nodes: 3, lb: true });
  else if (target === 'sdk-json') t = await startSdk('json');
  else if (target === 'sdk-sse') t = await startSdk('sse');
  else throw new Error(`unknown target ${target}`);
  try {
    const urls = t.urls ?? [t.url];
    await run(urls);  // warm-up: sessions, connections, JIT
    const r = await run(urls);
    console.log(JSON.stringify({ target, sessions, seconds, ...r }));
  } finally {
    await t.stop();
  }
}
