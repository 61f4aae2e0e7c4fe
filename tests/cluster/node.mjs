// Helpers for tests and benchmarks that run ONE node process directly
// (`<bin> node --name N --listen 127.0.0.1:P --cluster-port C --data DIR`,
// no --peers: a one-node cluster) instead of going through `launch`:
//
//  - startNode(): picks free loopback ports, spawns the node, resolves once
//    GET /healthz answers 200 (fails fast if the process exits first).
//    The handle offers kill(signal) (e.g. a real SIGKILL), stop() (SIGTERM,
//    expects exit code 0) and stderrTail().
//  - runTool(): runs a short-lived subcommand (inspect, replay, corrupt) to
//    completion and returns {code, signal, stdout, stderr}.
//  - jsonLines(): parses a command's stdout, one JSON value per line.
//  - skeinTestAppPath(): $SKEIN_TEST_APP.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { httpGet } from './cluster.mjs';

const STDERR_TAIL_BYTES = 16 * 1024;

// Every node process we started and have not seen exit: SIGKILLed if the
// test process exits, so no node outlives a failed test.
const liveNodes = new Set();
process.on('exit', () => {
  for (const child of liveNodes) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

export function skeinTestAppPath() {
  const p = process.env.SKEIN_TEST_APP;
  if (!p) throw new Error('SKEIN_TEST_APP is not set (path to build/bin/skein-test-app)');
  if (!fs.existsSync(p)) throw new Error(`SKEIN_TEST_APP=${p} does not exist`);
  return p;
}

/** `count` distinct free TCP ports on 127.0.0.1 (all held open until every one is picked). */
export async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      await new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', resolve);
      });
      servers.push(srv);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/**
 * Start `<bin> node` on a data dir. Options:
 *   bin, dataDir (required), name ('n1'), kindOptions (['counter.x=1', ...]),
 *   extraArgs ([]), readyTimeoutMs (30000), wrapper ([]: a command that
 *   execs the node, e.g. ['prlimit', '--nofile=512:512', '--']; pid is then
 *   the node's as long as the wrapper execs), ports ([http, cluster]: fixed
 *   ports, e.g. to restart a node where its peers expect it; default: two
 *   free ones).
 * Resolves with a handle { name, url, port, clusterPort, pid, child, cmdline,
 * exited (promise of {code, signal}), exitInfo, kill(signal), stop(), stderrTail() }.
 * A start that fails because a just-picked port was taken in between is retried
 * with new ports (twice).
 */
export async function startNode(opts) {
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startNodeOnce(opts);
    } catch (e) {
      lastErr = e;
      if (!e.portTaken) throw e;
    }
  }
  throw lastErr;
}

async function startNodeOnce({ bin, dataDir, name = 'n1', kindOptions = [], extraArgs = [], readyTimeoutMs = 30_000, wrapper = [], ports }) {
  if (!bin) throw new Error('startNode: bin is required');
  if (!dataDir) throw new Error('startNode: dataDir is required');
  const [port, clusterPort] = ports ?? await freePorts(2);
  const args = ['node', '--name', name, '--listen', `127.0.0.1:${port}`, '--cluster-port', String(clusterPort),
    '--data', dataDir, ...kindOptions.flatMap((o) => ['--kind-option', o]), ...extraArgs];
  const cmdline = [...wrapper, bin, ...args].join(' ');
  const verbose = !!process.env.SKEIN_TEST_VERBOSE;
  const child = wrapper.length
    ? spawn(wrapper[0], [...wrapper.slice(1), bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  liveNodes.add(child);

  let stderrBuf = '';
  const collect = (chunk) => {
    if (verbose) process.stderr.write(chunk);
    stderrBuf += chunk;
    if (stderrBuf.length > 2 * STDERR_TAIL_BYTES) stderrBuf = stderrBuf.slice(-STDERR_TAIL_BYTES);
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', collect);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', collect);
  const stderrTail = () => stderrBuf.slice(-STDERR_TAIL_BYTES);

  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      liveNodes.delete(child);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  let spawnError = null;
  child.on('error', (e) => { spawnError = e; });

  const url = `http://127.0.0.1:${port}`;
  try {
    // /healthz is the documented readiness signal and there is no event to
    // wait on, so poll it; the process exiting ends the wait at once.
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (spawnError) throw new Error(`could not spawn: ${spawnError.message}`);
      if (exitInfo) throw new Error(`node exited before serving (code ${exitInfo.code}, signal ${exitInfo.signal})`);
      const r = await httpGet(`${url}/healthz`, { timeoutMs: 2_000 }).catch(() => null);
      if (r && r.status === 200) break;
      if (Date.now() >= deadline) throw new Error(`GET ${url}/healthz did not answer 200 within ${readyTimeoutMs} ms`);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 25))]);
    }
  } catch (e) {
    if (!exitInfo) {
      try { child.kill('SIGKILL'); } catch { /* gone */ }
      await exited;
    }
    const tail = stderrTail();
    const err = new Error(`node did not start: ${e.message}\n  command: ${cmdline}\n  --- node stderr (tail) ---\n${tail}`);
    err.portTaken = exitInfo?.code === 1 && /address (already )?in use|bind/i.test(tail);
    throw err;
  }

  const handle = {
    name, url, port, clusterPort, pid: child.pid, child, cmdline, exited, stderrTail,
    get exitInfo() { return exitInfo; },
    /** Send `signal` (default SIGKILL) and wait for the process to exit; returns {code, signal}. */
    async kill(sig = 'SIGKILL', timeoutMs = 10_000) {
      if (!exitInfo) process.kill(child.pid, sig);
      return waitExit(timeoutMs, sig);
    },
    /** Graceful stop: SIGTERM, wait, expect exit code 0 (else throws with the stderr tail). */
    async stop(timeoutMs = 30_000) {
      if (exitInfo) {
        throw new Error(`node ${name} had already exited (code ${exitInfo.code}, signal ${exitInfo.signal}) before stop()\n--- node stderr (tail) ---\n${stderrTail()}`);
      }
      process.kill(child.pid, 'SIGTERM');
      const res = await waitExit(timeoutMs, 'SIGTERM');
      if (res.code !== 0) {
        throw new Error(`node ${name} exited with code ${res.code} signal ${res.signal} on SIGTERM, expected exit code 0\n--- node stderr (tail) ---\n${stderrTail()}`);
      }
      return res;
    },
  };

  async function waitExit(timeoutMs, sig) {
    let timer;
    const res = await Promise.race([
      exited,
      new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); }),
    ]);
    clearTimeout(timer);
    if (!res) {
      try { child.kill('SIGKILL'); } catch { /* gone */ }
      await exited;
      throw new Error(`node ${name} did not exit within ${timeoutMs} ms of ${sig}\n--- node stderr (tail) ---\n${stderrTail()}`);
    }
    return res;
  }

  return handle;
}

/** Run `<bin> ...args` to completion: {code, signal, stdout, stderr, cmdline}; bounded by timeoutMs. */
export function runTool(bin, args, { timeoutMs = 30_000 } = {}) {
  const cmdline = `${bin} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => {
      try { child.kill('SIGKILL'); } catch { /* gone */ }
      reject(new Error(`${cmdline} did not finish within ${timeoutMs} ms\n--- stderr ---\n${stderr.slice(-4000)}`));
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`${cmdline}: ${e.message}`)); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, cmdline });
    });
  });
}

/** stdout of a --json command -> array of parsed lines (blank lines skipped). */
export function jsonLines(stdout, what = 'output') {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((l, i) => {
    try {
      return JSON.parse(l);
    } catch (e) {
      throw new Error(`${what}: line ${i + 1} is not JSON (${e.message}): ${l.slice(0, 300)}`);
    }
  });
}
