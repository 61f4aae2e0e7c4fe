// Helpers for the multi-process cluster tests (and bench/chat_rtt.mjs).
//
//  - launchCluster(): runs `skein-demo launch`, parses its stdout protocol
//    (`node <name> <url>` lines, then `ready`), and stops it with SIGTERM,
//    checking exit code 0 and that no child process was left behind.
//  - WsClient: a `ws` client that buffers every server frame and offers
//    `await next(predicate, timeoutMs)`; waits are event-driven, timeouts are
//    only failure bounds.
//  - httpGet / httpGetJson / waitFor / waitForMembership / findRoomOwnedBy.
//  - trustCa(): the CA (PEM) that https:// and wss:// URLs of nodes with
//    client TLS are verified against (httpGet, WsClient).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const STDERR_TAIL_BYTES = 16 * 1024;

// Every launcher we started and have not seen exit: killed (whole process
// group) if the test process exits abnormally, so no node process outlives
// a failed test.
const liveLaunchers = new Set();
process.on('exit', () => {
  for (const child of liveLaunchers) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

// Extra trust for https:// and wss:// (tests with a throwaway CA).
const tlsTrust = { ca: undefined };

/** Verify https:// and wss:// node URLs against `caPem` (undefined: the system's CAs). */
export function trustCa(caPem) {
  tlsTrust.ca = caPem;
}

export function skeinDemoPath() {
  const p = process.env.SKEIN_DEMO;
  if (!p) throw new Error('SKEIN_DEMO is not set (path to build/bin/skein-demo)');
  if (!fs.existsSync(p)) throw new Error(`SKEIN_DEMO=${p} does not exist`);
  return p;
}

export function makeTempDir(prefix = 'skein-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir) {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

export function wsUrl(httpUrl, pathAndQuery) {
  return httpUrl.replace(/^http/, 'ws').replace(/\/$/, '') + pathAndQuery;
}

// Pids of the processes whose process group is `pgid` (Linux /proc).
function processGroupMembers(pgid) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ... ; comm may contain spaces/parens.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const state = rest[0];
      const pgrp = Number(rest[2]);
      if (pgrp === pgid && state !== 'Z') {
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        pids.push(`${entry}(${comm})`);
      }
    } catch { /* raced with exit */ }
  }
  return pids;
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Start `skein-demo launch --nodes N --data DIR [extraArgs...]`.
 * Resolves when the `ready` line arrives with
 *   { nodes: [{name, url}], node(name), stop(), child, stderrTail() }.
 * Rejects (with the tail of the launcher's stderr) when the output violates
 * the launch protocol, the launcher exits, or `timeoutMs` passes.
 */
export function launchCluster({ nodes = 3, dataDir, extraArgs = [], timeoutMs = 60_000, bin, logFile, env } = {}) {
  if (!dataDir) throw new Error('launchCluster: dataDir is required');
  const exe = bin ?? skeinDemoPath();
  // Tests that kill nodes expect them to stay dead unless they ask for the
  // launcher's supervision (--max-restarts / --restart-backoff).
  const supervised = extraArgs.some((a) => a === '--max-restarts' || a === '--restart-backoff');
  const args = ['launch', '--nodes', String(nodes), '--data', dataDir,
    ...(supervised ? [] : ['--max-restarts', '0']), ...extraArgs];
  const cmdline = `${exe} ${args.join(' ')}`;
  const verbose = !!process.env.SKEIN_TEST_VERBOSE;

  // detached: the launcher leads its own process group, so an emergency
  // cleanup can kill the launcher and its node children together.
  const child = spawn(exe, args, {
    stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: env ? { ...process.env, ...env } : process.env,
  });
  liveLaunchers.add(child);

  let stderrBuf = '';
  child.stderr.setEncoding('utf8');
  // logFile: every line the launcher and its nodes log, for explainFailure().
  const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
  if (log) child.on('exit', () => log.end());
  child.stderr.on('data', (chunk) => {
    if (verbose) process.stderr.write(chunk);
    if (log) log.write(chunk);
    stderrBuf += chunk;
    if (stderrBuf.length > 2 * STDERR_TAIL_BYTES) stderrBuf = stderrBuf.slice(-STDERR_TAIL_BYTES);
  });
  const stderrTail = () => stderrBuf.slice(-STDERR_TAIL_BYTES);

  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      liveLaunchers.delete(child);
      resolve({ code, signal });
    });
  });
  let exitInfo = null;
  exited.then((info) => { exitInfo = info; });

  const found = [];
  const lateStdout = []; // stdout lines after `ready` (the protocol has none)
  let isReady = false;

  const ready = new Promise((resolve, reject) => {
    const fail = (why) => {
      clearTimeout(timer);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      reject(new Error(`${why}\n  command: ${cmdline}\n  stdout lines so far: ${JSON.stringify(found.map((n) => `node ${n.name} ${n.url}`))}\n  --- launcher stderr (tail) ---\n${stderrTail()}`));
    };
    const timer = setTimeout(() => fail(`skein-demo launch did not print "ready" within ${timeoutMs} ms`), timeoutMs);
    child.on('error', (err) => fail(`could not spawn skein-demo: ${err.message}`));
    exited.then(({ code, signal }) => {
      if (!isReady) fail(`skein-demo launch exited before "ready" (code ${code}, signal ${signal})`);
    });

    const rl = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
    rl.on('line', (line) => {
      if (verbose) process.stderr.write(`[launcher stdout] ${line}\n`);
      if (isReady) { lateStdout.push(line); return; }
      if (/^dashboard https?:\/\/127\.0\.0\.1:\d+\/$/.test(line)) return;
      const m = /^node (\S+) (https?:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
      if (m) {
        found.push({ name: m[1], url: m[2], port: Number(m[3]) });
        return;
      }
      if (line === 'ready') {
        const names = found.map((n) => n.name);
        const expected = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
        if (JSON.stringify([...names].sort()) !== JSON.stringify(expected)) {
          return fail(`launch printed nodes ${JSON.stringify(names)} before "ready", expected exactly ${JSON.stringify(expected)}`);
        }
        if (new Set(found.map((n) => n.port)).size !== found.length) {
          return fail(`launch printed duplicate ports: ${JSON.stringify(found)}`);
        }
        isReady = true;
        clearTimeout(timer);
        return resolve();
      }
      fail(`unexpected line on launcher stdout before "ready" (contract: only "node <name> http://127.0.0.1:<port>" lines, then "ready"; logs go to stderr): ${JSON.stringify(line)}`);
    });
  });

  let stopping = null;
  async function stop({ timeoutMs: stopTimeout = 30_000, signal = 'SIGTERM' } = {}) {
    if (stopping) return stopping;
    stopping = (async () => {
      if (!exitInfo) {
        try { child.kill(signal); } catch { /* gone */ }
      }
      let timer;
      const res = await Promise.race([
        exited,
        new Promise((resolve) => { timer = setTimeout(() => resolve(null), stopTimeout); }),
      ]);
      clearTimeout(timer);
      if (!res) {
        const left = processGroupMembers(child.pid);
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
        throw new Error(`skein-demo launch did not exit within ${stopTimeout} ms of ${signal} (processes in its group: ${left.join(', ')})\n--- launcher stderr (tail) ---\n${stderrTail()}`);
      }
      // The launcher must stop every node before exiting: nothing of its
      // process group may remain (allow a short grace for exit bookkeeping).
      let left = processGroupMembers(child.pid);
      for (let i = 0; i < 20 && left.length; i++) {
        await delay(100);
        left = processGroupMembers(child.pid);
      }
      if (left.length) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
        throw new Error(`skein-demo launch exited on ${signal} but left processes running: ${left.join(', ')}`);
      }
      if (res.code !== 0) {
        throw new Error(`skein-demo launch exited with code ${res.code} signal ${res.signal} on ${signal}, expected exit code 0\n--- launcher stderr (tail) ---\n${stderrTail()}`);
      }
      if (lateStdout.length) {
        throw new Error(`skein-demo launch wrote to stdout after "ready" (contract: logs go to stderr): ${JSON.stringify(lateStdout.slice(0, 5))}`);
      }
      return res;
    })();
    return stopping;
  }

  return ready.then(() => ({
    nodes: found.map(({ name, url }) => ({ name, url })),
    node(name) {
      const n = found.find((x) => x.name === name);
      if (!n) throw new Error(`no node ${name} in ${JSON.stringify(found)}`);
      return { name: n.name, url: n.url };
    },
    child,
    stderrTail,
    stop,
    get exited() { return exitInfo !== null; },
  }));
}

// ---------------------------------------------------------------- HTTP ----

/** GET url -> {status, headers, body(text)}; no keep-alive, bounded in time. */
export function httpGet(url, { headers = {}, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const tls = url.startsWith('https:');
    const req = (tls ? https : http).get(url, { agent: false, headers: { connection: 'close', ...headers },
      ...(tls && tlsTrust.ca ? { ca: tlsTrust.ca } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode, headers: res.headers, body }); });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    // An upgrade answer (101) means the server did upgrade the request.
    req.on('upgrade', (res, socket) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: res.statusCode, headers: res.headers, body: '', upgraded: true });
    });
    const timer = setTimeout(() => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(new Error(`GET ${url}: ${e.message}`)); });
  });
}

/** GET url, expect 200 and a JSON body; returns the parsed body. */
export async function httpGetJson(url, opts) {
  const res = await httpGet(url, opts);
  if (res.status !== 200) {
    throw new Error(`GET ${url}: expected status 200, got ${res.status}: ${res.body.slice(0, 500)}`);
  }
  try {
    return JSON.parse(res.body);
  } catch (e) {
    throw new Error(`GET ${url}: body is not JSON (${e.message}): ${res.body.slice(0, 500)}`);
  }
}

/**
 * Poll `probe` until it returns a truthy value (which is returned), for
 * conditions with no event to wait on (e.g. membership convergence seen
 * over HTTP). `describe()` explains the last state on timeout.
 */
export async function waitFor(probe, { timeoutMs = 30_000, intervalMs = 100, what = 'condition', describe } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr = null;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      lastErr = null;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const extra = describe ? `\n  last state: ${await Promise.resolve(describe()).catch((e) => e.message)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `\n  last error: ${lastErr.message}` : ''}${extra}`);
    }
    await delay(intervalMs);
  }
}

/**
 * Wait until every node's GET /cluster names itself and lists all the
 * cluster's nodes (with their URLs) as connected members.
 */
export async function waitForMembership(cluster, { timeoutMs = 30_000 } = {}) {
  const names = cluster.nodes.map((n) => n.name).sort();
  let last = {};
  await waitFor(async () => {
    const views = await Promise.all(cluster.nodes.map((n) => httpGetJson(`${n.url}/cluster`)));
    last = Object.fromEntries(cluster.nodes.map((n, i) => [n.name, views[i]]));
    return cluster.nodes.every((n, i) => {
      const v = views[i];
      if (v.node !== n.name || !Array.isArray(v.members)) return false;
      const members = [...v.members].sort((a, b) => String(a.name).localeCompare(String(b.name)));
      return JSON.stringify(members.map((m) => m.name)) === JSON.stringify(names)
        && members.every((m) => m.connected === true
          && m.url === cluster.nodes.find((x) => x.name === m.name).url);
    });
  }, {
    timeoutMs,
    what: `every node's /cluster to list ${JSON.stringify(names)} as connected members with their URLs`,
    describe: () => JSON.stringify(last),
  });
  return last;
}

/** GET /cluster/placement?key=KEY on one node. */
export function placement(node, key) {
  return httpGetJson(`${node.url}/cluster/placement?key=${encodeURIComponent(key)}`);
}

/**
 * Try `${prefix}0`, `${prefix}1`, ... until /cluster/placement (asked on
 * the first node) says `owner`; returns {id, key, placement}.
 */
export async function findIdOwnedBy(cluster, { kind = 'chat', prefix = 'room-', owner, limit = 500 }) {
  for (let i = 0; i < limit; i++) {
    const id = `${prefix}${i}`;
    const key = `${kind}/${id}`;
    const p = await placement(cluster.nodes[0], key);
    if (p.owner === owner) return { id, key, placement: p };
  }
  throw new Error(`no ${kind}/${prefix}N (N < ${limit}) is owned by ${owner} according to ${cluster.nodes[0].name}`);
}

// ----------------------------------------------------------- WebSocket ----

function short(v, max = 240) {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max)}...(${s.length} chars)` : s;
}

/**
 * A WebSocket client that records every server frame. Server frames must be
 * JSON text frames `{"seq":<int>,"data":...}`; anything else is recorded as a
 * protocol violation and makes the next `next()` fail with it.
 */
export class WsClient {
  constructor(ws, label, url) {
    this.ws = ws;
    this.label = label;
    this.url = url;
    this.frames = [];          // {seq, data, at(ms), size}
    this.welcome = null;       // {type:'welcome', client, node}: the first frame
    this.violations = [];      // strings
    this.errors = [];          // Error
    this.cursor = 0;           // next() scans frames from here
    this.closeInfo = null;     // {code, reason}
    this._waiter = null;
    this.closed = new Promise((resolve) => { this._resolveClosed = resolve; });

    ws.on('message', (buf, isBinary) => {
      const at = performance.now();
      if (isBinary) {
        this.violations.push(`binary frame of ${buf.length} bytes (server frames must be JSON text)`);
      } else {
        const text = buf.toString('utf8');
        let v;
        try {
          v = JSON.parse(text);
        } catch (e) {
          v = undefined;
          this.violations.push(`server frame is not JSON (${e.message}): ${short(text)}`);
        }
        if (v !== undefined) {
          if (v === null || typeof v !== 'object' || Array.isArray(v) || !Number.isSafeInteger(v.seq) || v.seq < 0 || !('data' in v)) {
            this.violations.push(`server frame is not {"seq":<non-negative int>,"data":...}: ${short(text)}`);
          } else if (v.seq === 0 && v.data && v.data.type === 'welcome') {
            // Connection-level frame (seq 0, not a session event): it must be
            // the first frame and name the client id used to resume.
            if (this.welcome || this.frames.length > 0) this.violations.push(`welcome frame not first: ${short(text)}`);
            if (typeof v.data.client !== 'string' || v.data.client.length === 0) this.violations.push(`welcome without a client id: ${short(text)}`);
            this.welcome = v.data;
          } else {
            this.frames.push({ seq: v.seq, data: v.data, at, size: buf.length });
          }
        }
      }
      this._pump();
    });
    ws.on('error', (err) => { this.errors.push(err); });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString('utf8') };
      this._resolveClosed(this.closeInfo);
      this._pump();
    });
  }

  /**
   * Open a connection; rejects on HTTP error (err.statusCode), error or timeout.
   * `localAddress`: the source IP to connect from (e.g. '127.0.0.2').
   */
  static connect(url, { label = url, timeoutMs = 10_000, localAddress } = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024, handshakeTimeout: timeoutMs,
        ...(url.startsWith('wss:') && tlsTrust.ca ? { ca: tlsTrust.ca } : {}),
        ...(localAddress ? { localAddress } : {}) });
      const client = new WsClient(ws, label, url);
      let settled = false;
      const done = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) { ws.terminate(); reject(err); } else resolve(client);
      };
      const timer = setTimeout(() => done(new Error(`${label}: WebSocket ${url} did not open within ${timeoutMs} ms`)), timeoutMs);
      ws.once('open', () => done(null));
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { if (body.length < 2000) body += c; });
        const finish = () => {
          const err = new Error(`${label}: WebSocket upgrade of ${url} answered HTTP ${res.statusCode}: ${short(body)}`);
          err.statusCode = res.statusCode;
          err.body = body;
          done(err);
        };
        res.on('end', finish);
        res.on('error', finish);
        res.on('close', finish);
      });
      ws.once('error', (err) => done(new Error(`${label}: WebSocket ${url} failed to open: ${err.message}`)));
    });
  }

  /** Send a JSON value (or a raw string/Buffer as is); resolves once written. */
  send(value) {
    const payload = (typeof value === 'string' || Buffer.isBuffer(value)) ? value : JSON.stringify(value);
    return new Promise((resolve, reject) => {
      this.ws.send(payload, (err) => (err ? reject(new Error(`${this.label}: send failed: ${err.message}`)) : resolve()));
    });
  }

  /** Describe the client's state for failure messages. */
  describe(lastN = 6) {
    const tail = this.frames.slice(-lastN).map((f) => short({ seq: f.seq, data: f.data }, 200));
    return `${this.label}: ${this.frames.length} frames received (cursor ${this.cursor}), last: [${tail.join(', ')}]`
      + (this.closeInfo ? `; closed with code ${this.closeInfo.code} reason ${JSON.stringify(this.closeInfo.reason)}` : '')
      + (this.errors.length ? `; errors: ${this.errors.map((e) => e.message).join('; ')}` : '');
  }

  _scan(predicate) {
    for (let i = this.cursor; i < this.frames.length; i++) {
      if (predicate(this.frames[i])) {
        this.cursor = i + 1;
        return this.frames[i];
      }
    }
    return null;
  }

  _pump() {
    const w = this._waiter;
    if (!w) return;
    if (this.violations.length) {
      this._waiter = null;
      clearTimeout(w.timer);
      w.reject(new Error(`${this.label}: protocol violation while waiting for ${w.what}: ${this.violations[0]}`));
      return;
    }
    let f;
    try {
      f = this._scan(w.predicate);
    } catch (e) {
      this._waiter = null;
      clearTimeout(w.timer);
      w.reject(e);
      return;
    }
    if (f) {
      this._waiter = null;
      clearTimeout(w.timer);
      w.resolve(f);
    } else if (this.closeInfo) {
      this._waiter = null;
      clearTimeout(w.timer);
      w.reject(new Error(`connection closed while waiting for ${w.what}; ${this.describe()}`));
    }
  }

  /**
   * Resolve with the first frame at or after the cursor matching
   * `predicate(frame)` (frame = {seq, data, at}); the cursor moves past it.
   * Rejects on timeout, on close, or on a protocol violation.
   */
  next(predicate = () => true, timeoutMs = 10_000, what = 'a frame') {
    if (this._waiter) return Promise.reject(new Error(`${this.label}: concurrent next() calls`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._waiter = null;
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${this.describe()}`));
      }, timeoutMs);
      this._waiter = { predicate, resolve, reject, timer, what };
      this._pump();
    });
  }

  /** Like next() but matches on the frame's data. */
  nextData(predicate, timeoutMs, what) {
    return this.next((f) => predicate(f.data), timeoutMs, what);
  }

  /** Resolves with {code, reason} when closed; rejects after timeoutMs. */
  waitClosed(timeoutMs = 10_000) {
    let timer;
    return Promise.race([
      this.closed.finally(() => clearTimeout(timer)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${this.label}: not closed within ${timeoutMs} ms; ${this.describe()}`)), timeoutMs);
      }),
    ]);
  }

  /** Close politely (1000) and wait for the close; terminate if it hangs. */
  async close(timeoutMs = 5_000) {
    if (this.closeInfo) return this.closeInfo;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, 'bye');
    else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    try {
      return await this.waitClosed(timeoutMs);
    } catch {
      this.ws.terminate();
      return this.closed;
    }
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }
}

/** The seqs of `frames`, checked strictly increasing; returns an error text or null. */
export function seqProblem(frames) {
  for (let i = 1; i < frames.length; i++) {
    if (!(frames[i].seq > frames[i - 1].seq)) {
      return `seq not strictly increasing at frame ${i}: ${frames[i - 1].seq} then ${frames[i].seq} `
        + `(${short(frames[i - 1].data, 120)} then ${short(frames[i].data, 120)})`;
    }
  }
  return null;
}

/**
 * For a checker that found problems: the lines of `logFile` (launchCluster's
 * and addNode's `logFile`: every node's log, each line naming its node) that
 * name one of `keys` (session keys such as `counter/once16`) or a membership
 * change, the last `max` of them, after the path of a copy of the whole log
 * kept in os.tmpdir()/skein-test-failures (the test's temp dir is removed).
 * A failure seen once in CI is then explained by what CI printed.
 */
export function explainFailure(logFile, keys, { max = 300 } = {}) {
  let text;
  try { text = fs.readFileSync(logFile, 'utf8'); } catch (e) { return `(no log to explain it: ${e.message})`; }
  const keepDir = path.join(os.tmpdir(), 'skein-test-failures');
  fs.mkdirSync(keepDir, { recursive: true });
  const kept = path.join(keepDir, `${path.basename(path.dirname(logFile))}-${Date.now()}.log`);
  fs.writeFileSync(kept, text);
  const escape = (k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const named = keys.length ? new RegExp(`(${keys.map(escape).join('|')})(?![\\w-])`) : null;
  const membership = /\b(is up|unreachable|quorum lease|restart(ed|ing)|rejoin\w*|drain\w*|killed by signal)\b/;
  const noise = /: repeat of id \d+/;  // one line per re-sent input
  const lines = text.split('\n')
    .filter((l) => ((named && named.test(l)) || membership.test(l)) && !noise.test(l));
  const shown = lines.slice(-max);
  return `whole log kept at ${kept}; ${lines.length} lines name ${keys.join(', ') || 'no session'} `
    + `or a membership change${lines.length > max ? ` (the last ${max})` : ''}:\n${shown.join('\n')}`;
}

/**
 * Tracks what a test opened (clusters, clients, temp dirs) and releases it
 * all in `cleanup()`; stop errors of clusters are rethrown after cleanup.
 */
export class Resources {
  constructor() {
    this.clients = new Set();
    this.clusters = new Set();
    this.dirs = [];
  }

  tempDir(prefix) {
    const d = makeTempDir(prefix);
    this.dirs.push(d);
    return d;
  }

  async launch(opts) {
    const c = await launchCluster(opts);
    this.clusters.add(c);
    return c;
  }

  async stop(cluster) {
    this.clusters.delete(cluster);
    await this.closeClients();
    return cluster.stop();
  }

  async connect(url, opts) {
    const c = await WsClient.connect(url, opts);
    this.clients.add(c);
    return c;
  }

  async closeClients() {
    const all = [...this.clients];
    this.clients.clear();
    await Promise.all(all.map((c) => c.close()));
  }

  async cleanup() {
    const errors = [];
    await this.closeClients().catch((e) => errors.push(e));
    for (const c of this.clusters) {
      await c.stop().catch((e) => errors.push(e));
    }
    this.clusters.clear();
    for (const d of this.dirs) {
      try { removeDir(d); } catch (e) { errors.push(e); }
    }
    this.dirs = [];
    if (errors.length) throw errors[0];
  }
}
