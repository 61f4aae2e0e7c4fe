// Node processes in network namespaces: node i runs in host slot i as
// `ip netns exec NS skein-demo node --name nI --listen 0.0.0.0:8080
//  --cluster-port 7000 --advertise ADDR:8080 --cluster-advertise ADDR:7000
//  --seeds ...` with its data in DIR/nI (listening on 0.0.0.0 on purpose:
// the advertised address is what the others must see). `ip netns exec`
// execs the node, so the child's pid is the node's pid (kill -9, SIGSTOP).
//
// A Cluster knows every node it ever started: start/kill/restart/pause/
// resume/drain/join, `live()` (running and not paused), and stopAll().

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { httpGetJson, waitFor } from '../cluster/cluster.mjs';

// Every node process started and not seen exiting: SIGKILLed when this
// process exits, so no node outlives the harness.
const liveChildren = new Set();
process.on('exit', () => {
  for (const c of liveChildren) {
    try { process.kill(c.pid, 'SIGCONT'); process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

const HTTP_PORT = 8080;
const CLUSTER_PORT = 7000;

export class Cluster {
  /**
   * net: from netns.createNet; bin: skein-demo; dataDir: root of the data
   * dirs; extraArgs: added to every node (e.g. --unsafe-skip-fencing).
   */
  constructor({ net, bin, dataDir, extraArgs = [], failureTimeoutMs = 3000, log = () => {} }) {
    this.net = net;
    this.bin = bin;
    this.dataDir = dataDir;
    this.extraArgs = extraArgs;
    this.failureTimeoutMs = failureTimeoutMs;
    this.log = log;
    this.nodes = [];  // {name, slot, host, url, child, running, paused, exited, stderr}
    this.selfExits = [];  // {name, code}: non-zero exits the harness did not cause
    this.stopping = false;  // set by stopAll: exits from then on are the harness's
    // One admin token for every node (as `launch` does): /admin/drain needs it.
    this.adminTokenFile = path.join(dataDir, 'admin.token');
    if (!fs.existsSync(this.adminTokenFile)) {
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(this.adminTokenFile, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    }
    this.adminToken = fs.readFileSync(this.adminTokenFile, 'utf8').trim();
  }

  /** Headers of an admin request (POST /admin/*). */
  adminHeaders() { return { authorization: `Bearer ${this.adminToken}` }; }

  slotFree() {
    return this.net.hosts.findIndex((_, i) => !this.nodes.some((n) => n.slot === i));
  }

  node(name) { return this.nodes.find((n) => n.name === name); }

  /** Running members (drained or killed nodes excluded). */
  members() { return this.nodes.filter((n) => n.running); }

  /** Running and not paused: answers HTTP. */
  live() { return this.nodes.filter((n) => n.running && !n.paused); }

  spawnNode(n, seeds) {
    const args = ['node', '--name', n.name, '--listen', `0.0.0.0:${HTTP_PORT}`, '--cluster-port', String(CLUSTER_PORT),
      '--advertise', `${n.host.addr}:${HTTP_PORT}`, '--cluster-advertise', `${n.host.addr}:${CLUSTER_PORT}`,
      '--data', path.join(this.dataDir, n.name), '--failure-timeout', String(this.failureTimeoutMs),
      '--admin-token-file', this.adminTokenFile, ...this.extraArgs];
    if (seeds.length) args.push('--seeds', seeds.map((s) => `${s.host.addr}:${CLUSTER_PORT}`).join(','));
    // Debug logs (activations, joins, handoffs, failures) are the evidence
    // kept when the checker finds an anomaly; SKEIN_LOG_LEVEL overrides.
    const env = { ...process.env, SKEIN_LOG_LEVEL: process.env.SKEIN_LOG_LEVEL ?? 'debug' };
    const child = spawn('ip', ['netns', 'exec', n.host.ns, this.bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
    n.child = child;
    liveChildren.add(child);
    n.running = true;
    n.paused = false;
    n.stderr = '';
    // Every incarnation's log, appended: a restart must not erase the
    // evidence of what the node did before (kept with the data dirs).
    const logFd = fs.openSync(path.join(this.dataDir, `${n.name}.log`), 'a');
    fs.writeSync(logFd, `--- ${new Date().toISOString()} start ${n.name} (pid ${child.pid})\n`);
    child.stderr.once('close', () => fs.closeSync(logFd));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c) => {
      fs.writeSync(logFd, c);
      n.stderr += c;
      if (n.stderr.length > 256 * 1024) n.stderr = n.stderr.slice(-128 * 1024);
    });
    n.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
      liveChildren.delete(child);
      const current = n.child === child;
      if (current) n.running = false;
      resolve({ code, signal });
      // Exits the harness did not cause (a kill is a signal, a drain exits
      // 0): noted for the schedule's summary. 75 is a node that found its
      // cluster routing corrupt and asks for a fresh process
      // (runtime/node.cpp): restarted at once, as launch, systemd
      // (Restart=on-failure) and Kubernetes do; anything else waits for the
      // heal like a killed node.
      if (!current || this.stopping || !code) return;
      this.selfExits.push({ name: n.name, code });
      this.log(`${n.name} exited with status ${code} on its own${code === 75 ? '; restart, as its supervisor would' : ''}`);
      if (code === 75) setTimeout(() => { if (!n.running && !this.stopping) this.restart(n); }, 200);
    }));
    this.log(`start ${n.name} at ${n.url} (pid ${child.pid})`);
  }

  async waitHealthy(n, timeoutMs = 30_000) {
    await waitFor(async () => {
      if (!n.running) throw new Error(`${n.name} exited: ${n.stderr.slice(-2000)}`);
      const h = await httpGetJson(`${n.url}/healthz`, { timeoutMs: 1000 });
      return h.state === 'up';
    }, { timeoutMs, intervalMs: 100, what: `${n.name} up` });
  }

  /** Starts `count` nodes n1..nCount; n1 forms the cluster, the others join through it. */
  async startAll(count) {
    for (let i = 0; i < count; i++) {
      const n = this.newNode();
      this.spawnNode(n, i === 0 ? [] : [this.nodes[0]]);
      await this.waitHealthy(n);
    }
    await this.waitConverged(30_000);
  }

  newNode() {
    const slot = this.slotFree();
    if (slot < 0) throw new Error('no free host slot');
    const host = this.net.hosts[slot];
    const n = { name: `n${this.nodes.length + 1}`, slot, host, url: `http://${host.addr}:${HTTP_PORT}`, running: false, paused: false };
    this.nodes.push(n);
    return n;
  }

  /** A new node joining through every running member. */
  async join() {
    const n = this.newNode();
    this.spawnNode(n, this.members());
    return n;
  }

  kill(n) {
    if (n.running) process.kill(n.child.pid, 'SIGKILL');
    n.paused = false;
    return n.exited;
  }

  /** Starts a stopped node again on the same data dir, seeded with every other running member. */
  restart(n) {
    if (n.running) throw new Error(`${n.name} is running`);
    this.spawnNode(n, this.members().filter((m) => m !== n));
  }

  pause(n) {
    if (n.running && !n.paused) { process.kill(n.child.pid, 'SIGSTOP'); n.paused = true; }
  }

  resume(n) {
    if (n.running && n.paused) { process.kill(n.child.pid, 'SIGCONT'); n.paused = false; }
  }

  /**
   * Views of every live node: {name: /cluster JSON or {error}}. Converged
   * when each lists the same member names with the same up set, every
   * running node among them up and connected.
   */
  async views() {
    const out = {};
    await Promise.all(this.live().map(async (n) => {
      try { out[n.name] = await httpGetJson(`${n.url}/cluster`, { timeoutMs: 2000 }); } catch (e) { out[n.name] = { error: e.message }; }
    }));
    return out;
  }

  convergedIn(views) {
    const want = this.members().map((n) => n.name).sort().join(',');
    return this.live().every((n) => {
      const v = views[n.name];
      if (!v || !Array.isArray(v.members)) return false;
      const names = v.members.map((m) => m.name);
      if (new Set(names).size !== names.length) return false;
      const up = v.members.filter((m) => m.state === 'up').map((m) => m.name).sort().join(',');
      // Members are known by their advertised URL (never 0.0.0.0).
      return up === want && v.members.filter((m) => m.state === 'up')
        .every((m) => m.connected && m.url === this.node(m.name)?.url);
    });
  }

  /** Resolves with the ms it took, or throws with the last views after timeoutMs. */
  async waitConverged(timeoutMs) {
    const t0 = Date.now();
    let last = {};
    try {
      await waitFor(async () => { last = await this.views(); return this.convergedIn(last); },
        { timeoutMs, intervalMs: 200, what: 'convergence' });
    } catch {
      const brief = Object.fromEntries(Object.entries(last).map(([k, v]) => [k, v.error ?? v.members?.map((m) => `${m.name}:${m.state}${m.connected ? '' : '(unconnected)'}`).join(' ')]));
      const err = new Error(`not converged after ${timeoutMs} ms: ${JSON.stringify(brief)}`);
      err.views = brief;
      throw err;
    }
    return Date.now() - t0;
  }

  /** SIGTERM every running node (SIGCONT first), SIGKILL after 10 s. */
  async stopAll() {
    this.stopping = true;
    await Promise.all(this.nodes.filter((n) => n.running).map(async (n) => {
      this.resume(n);
      try { process.kill(n.child.pid, 'SIGTERM'); } catch { /* gone */ }
      let t;
      const r = await Promise.race([n.exited, new Promise((res) => { t = setTimeout(() => res(null), 10_000); })]);
      clearTimeout(t);
      if (!r) { try { process.kill(n.child.pid, 'SIGKILL'); } catch { /* gone */ } await n.exited; }
    }));
  }

  dataDirs() {
    return this.nodes.map((n) => ({ name: n.name, dir: path.join(this.dataDir, n.name) }))
      .filter((d) => fs.existsSync(d.dir));
  }
}
