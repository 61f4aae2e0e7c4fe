// Nodes as hosts: one Linux bridge `skn<tag>` in the root namespace with the
// address 10.77.<run>.1/24, and one network namespace `skn<tag>-<i>` per
// host slot, each with a veth into the bridge, the address 10.77.<run>.<10+i>
// and loopback up. Clients stay in the root namespace and reach the nodes
// through the bridge. Faults are iptables rules inside the namespaces
// (filter table, INPUT/OUTPUT only), so healing a host is `iptables -F`.
//
// Every bridge, namespace and veth this module makes carries the `skn`
// prefix and a tag file under /run/skein-nemesis/, so a run that died
// without cleaning up (SIGKILL) is cleaned by the next one: cleanupStale()
// removes the bridges/namespaces whose owning pid no longer runs.
//
// Needs root (ip netns, iptables). All calls are synchronous and bounded.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const TAG_DIR = '/run/skein-nemesis';

function run(cmd, args, { ignoreError = false } = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    if (ignoreError) return '';
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr || e.message || '').toString().trim()}`);
  }
}

const ip = (...args) => run('ip', args);
const ipQuiet = (...args) => run('ip', args, { ignoreError: true });

/** Why this machine cannot run the harness (null if it can). */
export function unavailableReason() {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root (ip netns and iptables need root)';
  for (const tool of ['ip', 'iptables']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (scripts/setup.sh installs iproute2 and iptables)`;
    }
  }
  return null;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Removes bridges and namespaces left by runs whose process is gone. */
export function cleanupStale() {
  fs.mkdirSync(TAG_DIR, { recursive: true });
  for (const f of fs.readdirSync(TAG_DIR)) {
    const file = path.join(TAG_DIR, f);
    let info;
    try { info = JSON.parse(fs.readFileSync(file, 'utf8')); } catch { fs.rmSync(file, { force: true }); continue; }
    if (pidAlive(info.pid)) continue;
    removeNet(info.tag, info.slots);
    fs.rmSync(file, { force: true });
  }
}

function removeNet(tag, slots) {
  for (let i = 0; i < slots; i++) ipQuiet('netns', 'del', `skn${tag}-${i}`);
  ipQuiet('link', 'del', `skn${tag}`);
}

/** Third octet not used by any address on this machine (10.77.X.0/24). */
function pickSubnet() {
  const used = ip('-4', '-o', 'addr', 'show');
  for (let tries = 0; tries < 200; tries++) {
    const x = 1 + Math.floor(Math.random() * 250);
    if (!used.includes(`10.77.${x}.`)) return x;
  }
  throw new Error('no free 10.77.X.0/24 subnet');
}

/**
 * Creates the bridge and `slots` namespaces. Returns
 * { tag, subnet, hosts: [{ns, addr}], rootAddr, destroy() }.
 */
export function createNet(slots) {
  cleanupStale();
  const tag = Math.random().toString(16).slice(2, 6);
  const subnet = pickSubnet();
  const bridge = `skn${tag}`;
  fs.writeFileSync(path.join(TAG_DIR, tag), JSON.stringify({ tag, slots, pid: process.pid }));
  const rootAddr = `10.77.${subnet}.1`;
  const hosts = [];
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${rootAddr}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (let i = 0; i < slots; i++) {
      const ns = `skn${tag}-${i}`;
      const outer = `skn${tag}h${i}`;
      const inner = `skn${tag}n${i}`;
      const addr = `10.77.${subnet}.${10 + i}`;
      ip('netns', 'add', ns);
      ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
      ip('link', 'set', inner, 'netns', ns);
      ip('link', 'set', outer, 'master', bridge);
      ip('link', 'set', outer, 'up');
      ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', inner);
      ip('-n', ns, 'link', 'set', inner, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      hosts.push({ ns, addr });
    }
  } catch (e) {
    removeNet(tag, slots);
    fs.rmSync(path.join(TAG_DIR, tag), { force: true });
    throw e;
  }
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    removeNet(tag, slots);
    fs.rmSync(path.join(TAG_DIR, tag), { force: true });
  };
  process.on('exit', destroy);
  return { tag, subnet, hosts, rootAddr, destroy };
}

function iptables(ns, args) {
  run('ip', ['netns', 'exec', ns, 'iptables', '-w', '5', ...args]);
}

/** Drop every packet between `host` and each address in `peers` (both directions, on host's side). */
export function cut(host, peers) {
  for (const p of peers) {
    iptables(host.ns, ['-A', 'INPUT', '-s', p.addr, '-j', 'DROP']);
    iptables(host.ns, ['-A', 'OUTPUT', '-d', p.addr, '-j', 'DROP']);
  }
}

/**
 * Drop TCP only between `host` and each address in `peers` (both
 * directions, on host's side): BASP streams stall (the kernel retransmits,
 * the connections stay open) while UDP still passes.
 */
export function cutTcp(host, peers) {
  for (const p of peers) {
    iptables(host.ns, ['-A', 'INPUT', '-s', p.addr, '-p', 'tcp', '-j', 'DROP']);
    iptables(host.ns, ['-A', 'OUTPUT', '-d', p.addr, '-p', 'tcp', '-j', 'DROP']);
  }
}

/** Drop a random fraction `p` of the packets `host` receives and sends. */
export function lose(host, p) {
  for (const chain of ['INPUT', 'OUTPUT'])
    iptables(host.ns, ['-A', chain, '-m', 'statistic', '--mode', 'random', '--probability', String(p), '-j', 'DROP']);
}

/** Removes every rule in `host`'s namespace. */
export function heal(host) {
  iptables(host.ns, ['-F']);
}
