// Process-level helpers for the migration / failover tests and
// bench/cluster_bench.mjs:
//
//  - nodePid(dataDir, name): pid of the `skein-demo node --name NAME` whose
//    --data is DIR/NAME (found through /proc, not by a broad pattern).
//  - killLaunchedNode(dataDir, name): SIGKILL that node and wait until it is
//    gone; returns its pid (`launch` may restart it under a new one).
//  - addNode(dataDir): `skein-demo launch --add-node --data DIR`, parsed like
//    launchCluster (one `node nI URL` line, then `ready`); stop() = SIGTERM.
//  - ctl(url, ...args): run `skein-demo ctl --node URL ...`, bounded.
//  - CounterLoad: counter writers (one per counter, a bounded window of
//    pipelined {"op":"add","by":1}, globally paced) and watchers, resuming
//    with ?client=ID&last_seq=N when their connection closes; records every
//    (seq, value) each connection saw, for exactness / fork checks.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { skeinDemoPath, wsUrl, waitFor } from './cluster.mjs';

export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ------------------------------------------------------------ processes ----

function readCmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length);
  } catch {
    return null;
  }
}

function procState(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return null;
  }
}

/** Pid of the node process `--name NAME --data DIR/NAME`, or null. */
export function nodePid(dataDir, name) {
  const want = path.join(dataDir, name);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = readCmdline(entry);
    if (!args || args[1] !== 'node') continue;
    const ni = args.indexOf('--name');
    const di = args.indexOf('--data');
    if (ni < 0 || di < 0 || args[ni + 1] !== name || path.resolve(args[di + 1] ?? '') !== path.resolve(want)) continue;
    const st = procState(entry);
    if (st && st !== 'Z') return Number(entry);
  }
  return null;
}

export function isAlive(pid) {
  const st = procState(pid);
  return st !== null && st !== 'Z';
}

export async function waitProcessGone(pid, timeoutMs, what = `process ${pid} to exit`) {
  await waitFor(() => !isAlive(pid), { timeoutMs, intervalMs: 50, what });
}

export async function killLaunchedNode(dataDir, name, timeoutMs = 10_000) {
  const pid = nodePid(dataDir, name);
  if (!pid) throw new Error(`no process for node ${name} under ${dataDir}`);
  process.kill(pid, 'SIGKILL');
  await waitProcessGone(pid, timeoutMs);
  return pid;
}

export function readLaunchJson(dataDir) {
  return JSON.parse(fs.readFileSync(path.join(dataDir, 'launch.json'), 'utf8'));
}

const liveChildren = new Set();
process.on('exit', () => {
  for (const c of liveChildren) {
    try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

/**
 * `skein-demo launch --add-node --data DIR`: resolves on `ready` with
 * {name, url, child, stop(), stderrTail(), readyAt (performance.now())}.
 */
export function addNode(dataDir, { timeoutMs = 60_000, extraArgs = [], logFile, env } = {}) {
  const exe = skeinDemoPath();
  const args = ['launch', '--add-node', '--data', dataDir, ...extraArgs];
  const verbose = !!process.env.SKEIN_TEST_VERBOSE;
  const startedAt = performance.now();
  const child = spawn(exe, args, {
    stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: env ? { ...process.env, ...env } : process.env,
  });
  liveChildren.add(child);
  let err = '';
  child.stderr.setEncoding('utf8');
  const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
  if (log) child.on('exit', () => log.end());
  child.stderr.on('data', (c) => {
    if (verbose) process.stderr.write(`[add-node] ${c}`);
    if (log) log.write(c);
    err += c;
    if (err.length > 64 * 1024) err = err.slice(-32 * 1024);
  });
  let exitInfo = null;
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    liveChildren.delete(child);
    exitInfo = { code, signal };
    resolve(exitInfo);
  }));
  const stderrTail = () => err.slice(-16 * 1024);
  let node = null;
  return new Promise((resolve, reject) => {
    let done = false;
    const fail = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      reject(new Error(`${why}\n  command: ${exe} ${args.join(' ')}\n--- stderr (tail) ---\n${stderrTail()}`));
    };
    const timer = setTimeout(() => fail(`launch --add-node did not print ready within ${timeoutMs} ms`), timeoutMs);
    exited.then(({ code, signal }) => fail(`launch --add-node exited before ready (code ${code}, signal ${signal})`));
    const rl = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
    rl.on('line', (line) => {
      if (verbose) process.stderr.write(`[add-node stdout] ${line}\n`);
      if (done) return;
      const m = /^node (\S+) (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (m && !node) { node = { name: m[1], url: m[2], lineAt: performance.now() }; return; }
      if (line === 'ready' && node) {
        done = true;
        clearTimeout(timer);
        const readyAt = performance.now();
        resolve({
          ...node,
          startedAt,
          readyAt,
          child,
          stderrTail,
          get exitInfo() { return exitInfo; },
          async stop(stopTimeout = 30_000) {
            if (!exitInfo) { try { child.kill('SIGTERM'); } catch { /* gone */ } }
            let t;
            const r = await Promise.race([exited, new Promise((res) => { t = setTimeout(() => res(null), stopTimeout); })]);
            clearTimeout(t);
            if (!r) {
              try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
              throw new Error(`launch --add-node did not exit within ${stopTimeout} ms of SIGTERM\n${stderrTail()}`);
            }
            return r;
          },
        });
        return;
      }
      fail(`unexpected stdout line from launch --add-node: ${JSON.stringify(line)}`);
    });
  });
}

/** `skein-demo ctl --node URL ARGS... [--data DIR]` -> {code, stdout, stderr}; bounded. */
export function ctl(url, args, { timeoutMs = 60_000, env = {}, dataDir } = {}) {
  const exe = skeinDemoPath();
  // dataDir: a `launch` data root; ctl reads the admin token in DIR/admin.token.
  const all = dataDir ? [...args, '--data', dataDir] : args;
  return new Promise((resolve, reject) => {
    const child = spawn(exe, ['ctl', '--node', url, ...all], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`ctl ${args.join(' ')} did not finish within ${timeoutMs} ms`)); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout: out, stderr: err }); });
  });
}

/** True if `ctl drain`/`move` answers "no such route"/404/"not implemented". */
export function adminNotWired(r) {
  return r.code !== 0 && /no such route|not implemented|404/i.test(`${r.stdout}\n${r.stderr}`);
}

// --------------------------------------------------------------- load ----

const isValue = (d) => d !== null && typeof d === 'object' && Object.hasOwn(d, 'value') && !Object.hasOwn(d, 'type');

/**
 * One connection to counter/ID that either writes (window > 0) or watches.
 * Resumes with ?client=ID&last_seq=N on every close it did not ask for.
 * A writer sends every add with a message id (`{"id":N,"data":{"op":"add"}}`,
 * docs/protocol.md) and keeps it until `{"ack":N}` comes; after a reconnect
 * it sends every unacknowledged add again with the same id (the session
 * applies each id once). So `sent` is the number of distinct adds, `acked`
 * the number of distinct acks, and at the end both equal the counter's growth.
 */
export class CounterConn {
  constructor({ id, urls, label, window = 0, load }) {
    this.id = id;
    this.urls = urls;            // node http URLs; urls[0] is home
    this.urlIndex = 0;
    this.label = label;
    this.window = window;
    this.load = load;
    this.clientId = null;
    this.ws = null;
    this.open = false;
    this.lastSeq = 0;
    this.lastValue = null;       // last {"value"} seen
    this.initialValue = null;
    this.sent = 0;               // distinct adds (message ids) issued
    this.acked = 0;              // distinct adds acknowledged ({"ack":N})
    this.applied = 0;            // value frames after the initial one (+1 each)
    this.nextId = 0;
    this.unacked = new Map();    // id -> text, in id order
    this.resent = 0;             // adds sent again after a reconnect
    this.dupAcks = 0;            // acks for ids not (or no longer) outstanding
    this.seen = [];              // [seq, value, atMs, connNo]
    this.violations = [];
    this.closes = [];            // {code, reason, at}
    this.resumes = 0;
    this.resets = 0;
    this.connNo = 0;
    this.expectState = false;    // after reset: next value frame is the state
    this.stopped = false;
    this.everClosed = false;
    this.connecting = null;
    this.errors = [];
  }

  get inflight() { return this.unacked.size; }

  url() {
    const base = this.urls[this.urlIndex % this.urls.length];
    const q = this.clientId ? `?client=${encodeURIComponent(this.clientId)}&last_seq=${this.lastSeq}&resume_token=${this.resumeToken}` : '';
    return wsUrl(base, `/ws/counter/${encodeURIComponent(this.id)}${q}`);
  }

  connect(timeoutMs = 10_000) {
    if (this.connecting) return this.connecting;
    // A failed connect is retried twice (its close handler and the caller's
    // catch): the second retry must not open a second socket beside the first.
    if (this.open && this.ws?.readyState === WebSocket.OPEN) return Promise.resolve();
    this.connecting = new Promise((resolve, reject) => {
      const url = this.url();
      const base = this.urls[this.urlIndex % this.urls.length];
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      const connNo = ++this.connNo;
      const resuming = this.clientId !== null;
      let firstEvent = true;
      this.ws = ws;
      ws.on('open', () => {
        this.open = true;
        this.connecting = null;
        // Everything not acknowledged goes again, same ids, in order.
        for (const text of this.unacked.values()) { ws.send(text); this.resent++; }
        resolve();
        this.load?.pump();
      });
      ws.on('error', (e) => { this.errors.push(`${url}: ${e.message}`); });
      ws.on('unexpected-response', (req, res) => {
        this.errors.push(`${url}: HTTP ${res.statusCode}`);
        ws.terminate();
      });
      ws.on('message', (buf) => {
        const at = performance.now();
        let v;
        try { v = JSON.parse(buf.toString('utf8')); } catch { this.violations.push(`non-JSON frame ${buf.toString('utf8').slice(0, 100)}`); return; }
        if (Object.hasOwn(v, 'ack')) {
          if (v.error) this.violations.push(`conn#${connNo}: add ${v.ack} rejected: ${v.error}`);
          if (this.unacked.delete(v.ack)) this.acked++;
          else this.dupAcks++;
          this.load?.pump();
          return;
        }
        if (v.seq === 0 && v.data?.type === 'welcome') {
          if (this.clientId && v.data.client !== this.clientId) this.violations.push(`resume as ${this.clientId} welcomed as ${v.data.client}`);
          this.clientId = v.data.client;
          if (v.data.resume_token) this.resumeToken = v.data.resume_token;
          return;
        }
        const d = v.data;
        if (!(v.seq > this.lastSeq)) {
          this.violations.push(`conn#${connNo}${resuming ? ' (resumed)' : ''}: seq ${v.seq} after ${this.lastSeq}: ${JSON.stringify(d)}`);
        }
        this.lastSeq = Math.max(this.lastSeq, v.seq);
        if (d && d.type === 'reset') { this.resets++; this.expectState = true; firstEvent = false; return; }
        if (!isValue(d)) { this.violations.push(`conn#${connNo}: unexpected frame ${JSON.stringify(v)}`); return; }
        this.seen.push([v.seq, d.value, at, connNo]);
        if (this.initialValue === null) {
          this.initialValue = d.value;
          this.lastValue = d.value;
        } else if (this.expectState) {
          this.expectState = false;
          if (d.value < this.lastValue) this.violations.push(`conn#${connNo}: state after reset ${d.value} < last seen ${this.lastValue}`);
          this.lastValue = d.value;
        } else if (resuming && firstEvent && d.value === this.lastValue) {
          this.violations.push(`conn#${connNo} (resume last_seq): extra state frame {"value":${d.value}} (seq ${v.seq}) instead of only the events after last_seq`);
        } else {
          if (d.value !== this.lastValue + 1) {
            this.violations.push(`conn#${connNo}${resuming ? ' (resumed)' : ''}: value ${d.value} (seq ${v.seq}) after ${this.lastValue}: not +1`);
          }
          this.lastValue = d.value;
          if (this.window > 0) {
            this.applied++;
            if (!this.shared && this.applied > this.sent) this.violations.push(`conn#${connNo}: more adds applied (${this.applied}) than sent (${this.sent})`);
          }
        }
        firstEvent = false;
        this.load?.pump();
      });
      ws.on('close', (code, reason) => {
        const wasOpen = this.open;
        this.open = false;
        this.closes.push({ code, reason: reason.toString(), at: performance.now(), conn: connNo, base });
        if (this.connecting && !wasOpen) { this.connecting = null; reject(new Error(`${this.label}: ${url} closed before open (${code}) ${this.errors.at(-1) ?? ''}`)); }
        if (!this.stopped) {
          this.everClosed = true;
          this.scheduleReconnect();
        }
      });
    });
    return this.connecting;
  }

  /** The node URL of the current (or last) connection. */
  currentBase() { return this.urls[this.urlIndex % this.urls.length]; }

  scheduleReconnect(attempt = 0) {
    if (this.stopped) return;
    if (attempt > 100) { this.violations.push('gave up reconnecting after 100 attempts'); return; }
    this.urlIndex++;
    if (this.load) while (this.load.deadUrls.has(this.urls[this.urlIndex % this.urls.length]) && attempt < 100) { this.urlIndex++; attempt++; }
    setTimeout(() => {
      if (this.stopped) return;
      this.resumes++;
      this.connect(5_000).catch(() => this.scheduleReconnect(attempt + 1));
    }, Math.min(50 * (attempt + 1), 500));
  }

  trySend() {
    if (!this.open || this.stopped || this.window === 0 || this.expectState) return false;
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    if (this.inflight >= this.window) return false;
    this.sent++;
    const id = ++this.nextId;
    const text = `{"id":${id},"data":{"op":"add","by":1}}`;
    this.unacked.set(id, text);
    this.ws.send(text);
    return true;
  }

  close() {
    this.stopped = true;
    if (this.ws && (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)) {
      try { this.ws.terminate(); } catch { /* ignore */ }
    }
  }
}

/**
 * Writers for `ids` (one each, home node round-robin over `nodes`), plus
 * optional watchers; paced at `rate` adds/s in total.
 */
export class CounterLoad {
  constructor({ ids, nodes, rate = 1500, window = 4, watchers = [] }) {
    this.ids = ids;
    this.rate = rate;
    this.deadUrls = new Set();
    this.writers = ids.map((id, i) => {
      const urls = nodes.map((_, k) => nodes[(i + k) % nodes.length].url);
      const w = new CounterConn({ id, urls, label: `w:${id}@${nodes[i % nodes.length].name}`, window, load: this });
      // An id listed twice has two writers: each sees the other's adds too.
      w.shared = ids.indexOf(id) !== ids.lastIndexOf(id);
      return w;
    });
    // watchers: [{id, node}]
    this.watchers = watchers.map(({ id, node, others }) => new CounterConn({
      id, urls: [node.url, ...others.map((o) => o.url)], label: `watch:${id}@${node.name}`, window: 0, load: this,
    }));
    this.budget = 0;
    this.rr = 0;
    this.sending = false;
    this.timer = null;
    this.totalSentAt = [];
  }

  get all() { return [...this.writers, ...this.watchers]; }

  async connectAll() {
    await Promise.all(this.all.map((c) => c.connect()));
    // Every connection got its initial value before the load starts.
    await waitFor(() => this.all.every((c) => c.initialValue !== null), { timeoutMs: 20_000, intervalMs: 20, what: 'initial {"value"} on every load connection' });
  }

  start() {
    this.sending = true;
    this.startedAt = performance.now();
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.budget = Math.min(this.budget + ((now - last) / 1000) * this.rate, this.rate / 10);
      last = now;
      this.pump();
    }, 5);
  }

  pump() {
    if (!this.sending) return;
    const n = this.writers.length;
    let idle = 0;
    while (this.budget >= 1 && idle < n) {
      const w = this.writers[this.rr++ % n];
      if (w.trySend()) { this.budget -= 1; idle = 0; } else idle++;
    }
  }

  stopSending() {
    this.sending = false;
    this.stoppedAt = performance.now();
    clearInterval(this.timer);
  }

  get sent() { return this.writers.reduce((s, w) => s + w.sent, 0); }
  get acked() { return this.writers.reduce((s, w) => s + w.acked, 0); }

  /** Wait until every writer's adds are acknowledged (bounded); returns the laggards. */
  async quiesce(timeoutMs = 20_000) {
    try {
      await waitFor(() => this.writers.every((w) => w.open && w.inflight === 0 && !w.expectState), { timeoutMs, intervalMs: 50, what: 'every writer acknowledged' });
    } catch { /* reported by the caller through the laggards */ }
    return this.writers.filter((w) => !(w.open && w.inflight === 0));
  }

  closeAll() {
    for (const c of this.all) c.close();
  }
}

/**
 * Per counter: the (seq, value) pairs every connection saw must agree (same
 * seq => same value) and be increasing in seq (no fork). Returns problems.
 */
export function forkProblems(conns) {
  const byId = new Map();
  for (const c of conns) {
    if (!byId.has(c.id)) byId.set(c.id, []);
    byId.get(c.id).push(c);
  }
  const problems = [];
  for (const [id, cs] of byId) {
    const bySeq = new Map();
    for (const c of cs) {
      for (const [seq, value] of c.seen) {
        const prev = bySeq.get(seq);
        if (prev && prev.value !== value) problems.push(`${id}: seq ${seq} is {"value":${prev.value}} for ${prev.label} but {"value":${value}} for ${c.label}`);
        else if (!prev) bySeq.set(seq, { value, label: c.label });
      }
    }
    const seqs = [...bySeq.keys()].sort((a, b) => a - b);
    for (let i = 1; i < seqs.length; i++) {
      const a = bySeq.get(seqs[i - 1]);
      const b = bySeq.get(seqs[i]);
      if (!(b.value >= a.value)) problems.push(`${id}: seq ${seqs[i - 1]} -> {"value":${a.value}} (${a.label}) but later seq ${seqs[i]} -> {"value":${b.value}} (${b.label})`);
    }
  }
  return problems;
}

/** Open a fresh connection to counter/ID on `url`, return its first value (or throw). */
export async function readCounter(url, id, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(url, `/ws/counter/${encodeURIComponent(id)}`), { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`counter/${id} on ${url}: no value within ${timeoutMs} ms`)); }, timeoutMs);
    ws.on('message', (buf) => {
      const v = JSON.parse(buf.toString('utf8'));
      if (v.seq === 0 && v.data?.type === 'welcome') return;
      clearTimeout(timer);
      ws.terminate();
      if (isValue(v.data)) resolve({ value: v.data.value, seq: v.seq, at: performance.now() });
      else reject(new Error(`counter/${id} on ${url}: first frame ${JSON.stringify(v)}`));
    });
    ws.on('unexpected-response', (req, res) => { clearTimeout(timer); ws.terminate(); reject(new Error(`counter/${id} on ${url}: HTTP ${res.statusCode}`)); });
    ws.on('error', (e) => { clearTimeout(timer); reject(new Error(`counter/${id} on ${url}: ${e.message}`)); });
    ws.on('close', (code, reason) => { clearTimeout(timer); reject(new Error(`counter/${id} on ${url}: closed ${code} ${reason} before a value`)); });
  });
}

/** readCounter, retried until `deadline` (performance.now() ms). */
export async function readCounterUntil(urls, id, deadline) {
  let lastErr;
  for (let i = 0; ; i++) {
    const left = deadline - performance.now();
    if (left <= 0) throw lastErr ?? new Error(`counter/${id}: deadline passed`);
    try {
      return await readCounter(urls[i % urls.length], id, Math.max(200, Math.min(left, 3000)));
    } catch (e) {
      lastErr = e;
      await delay(50);
    }
  }
}

export function percentile(xs, p) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
