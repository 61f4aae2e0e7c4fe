// Cluster test: mutual TLS on the cluster port (issue 14, item 3), with a
// 3-node `launch --cluster-tls` (a throwaway CA and node certificates made
// by launch with the openssl tool):
//  - the cluster forms and a chat room works across nodes over TLS;
//  - a rogue node whose certificate comes from another CA, and one that
//    speaks plaintext BASP, try to join through a member: neither is
//    admitted (/cluster still lists exactly n1, n2, n3) and the rogue stays
//    `joining`;
//  - a BASP header announcing a 4 GiB payload, then garbage, on a member's
//    cluster port: the node stays up and in the cluster;
//  - a node given --cluster-tls-dir without its key refuses to start (exit 1).
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/tls.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { Resources, httpGet, httpGetJson, waitFor, waitForMembership, wsUrl, skeinDemoPath } from './cluster.mjs';
import { startNode } from './node.mjs';

const isSaid = (d) => d !== null && typeof d === 'object' && d.type === 'said';

function openssl(args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA of its own and a node certificate signed by it, in dir. */
function rogueCerts(dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f) => path.join(dir, f);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=rogue CA', '-keyout', p('ca.key'), '-out', p('ca.pem')]);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
    '-keyout', p('node.key'), '-out', p('node.csr')]);
  openssl(['x509', '-req', '-days', '1', '-in', p('node.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
    '-CAcreateserial', '-out', p('node.pem')]);
}

describe('cluster TLS', { timeout: 240_000 }, () => {
  const res = new Resources();
  const rogues = new Set();
  let cluster;
  let dataDir;
  let ports;  // name -> cluster port

  before(async () => {
    dataDir = res.tempDir('skein-tls-');
    cluster = await res.launch({ dataDir, extraArgs: ['--cluster-tls'] });
    await waitForMembership(cluster);
    ports = Object.fromEntries(JSON.parse(fs.readFileSync(path.join(dataDir, 'launch.json'), 'utf8'))
      .map((n) => [n.name, n.cluster_port]));
  });

  after(async () => {
    for (const r of rogues) await r.kill('SIGKILL').catch(() => {});
    await res.cleanup();
  });

  const names = async (url) => (await httpGetJson(`${url}/cluster`)).members.map((m) => m.name).sort();

  it('forms the cluster over mutual TLS and carries a chat across nodes', async () => {
    for (const n of ['n1', 'n2', 'n3']) {
      for (const f of ['ca.pem', 'node.pem', 'node.key']) assert.ok(fs.existsSync(path.join(dataDir, 'tls', n, f)), `${n}/${f}`);
    }
    const [a, , c] = cluster.nodes;
    const alice = await res.connect(wsUrl(a.url, '/ws/chat/tls-room?user=alice'), { label: 'alice' });
    const carol = await res.connect(wsUrl(c.url, '/ws/chat/tls-room?user=carol'), { label: 'carol' });
    await carol.nextData((d) => d !== null && typeof d === 'object' && d.type === 'history', 15_000, 'carol joined');
    await alice.send({ type: 'say', text: 'over tls' });
    const said = await carol.nextData((d) => isSaid(d) && d.text === 'over tls', 15_000, 'the message on another node');
    assert.equal(said.data.user, 'alice');
  });

  it('does not admit a node of another CA nor a plaintext node', async () => {
    const rogueDir = res.tempDir('skein-rogue-');
    rogueCerts(path.join(rogueDir, 'tls'), 'rogue1');
    const seeds = `127.0.0.1:${ports.n1}`;
    const withCert = await startNode({ bin: skeinDemoPath(), dataDir: path.join(rogueDir, 'd1'), name: 'rogue1',
      extraArgs: ['--seeds', seeds, '--cluster-tls-dir', path.join(rogueDir, 'tls')] });
    rogues.add(withCert);
    const plain = await startNode({ bin: skeinDemoPath(), dataDir: path.join(rogueDir, 'd2'), name: 'rogue2',
      extraArgs: ['--seeds', seeds] });
    rogues.add(plain);
    // Give them several seed attempts (one per heartbeat) to get in.
    const deadline = Date.now() + 6_000;
    while (Date.now() < deadline) {
      for (const n of cluster.nodes) assert.deepEqual(await names(n.url), ['n1', 'n2', 'n3'], `${n.name} admitted a rogue`);
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const r of [withCert, plain]) {
      const h = await httpGetJson(`${r.url}/healthz`);
      assert.equal(h.state, 'joining', `${r.name} must stay joining`);
      assert.equal(h.peers_connected, 0);
    }
  });

  it('survives a 4 GiB BASP header and garbage on the cluster port', async () => {
    const target = cluster.nodes[1];
    const header = Buffer.alloc(32);
    header.writeUInt32BE(0xffffff00, 4);  // payload length field
    await new Promise((resolve) => {
      const s = net.connect(ports[target.name], '127.0.0.1', () => {
        s.write(header);
        s.write(Buffer.alloc(4096, 0xab));
        setTimeout(() => s.destroy(), 500);
      });
      s.on('close', resolve);
      s.on('error', resolve);
    });
    assert.equal((await httpGet(`${target.url}/healthz`)).status, 200);
    await waitForMembership(cluster, { timeoutMs: 10_000 });
  });

  it('closes half-open handshakes on the cluster port (silent, and half a ClientHello) within 25 s', async () => {
    const target = cluster.nodes[2];
    const open = (bytes) => new Promise((resolve, reject) => {
      const s = net.connect(ports[target.name], '127.0.0.1', () => {
        if (bytes) s.write(bytes);
        resolve({ s, closed: new Promise((done) => { s.on('close', () => done(performance.now())); }) });
      });
      s.on('error', () => {});
      s.once('error', reject);
    });
    const started = performance.now();
    const silent = await open(null);
    const half = await open(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));  // a ClientHello that stops
    const within = (p) => Promise.race([p, new Promise((r) => setTimeout(() => r(null), 25_000))]);
    const [a, b] = await Promise.all([within(silent.closed), within(half.closed)]);
    silent.s.destroy();
    half.s.destroy();
    assert.ok(a, 'the silent connection must be closed by the node');
    assert.ok(b, 'the half ClientHello must be closed by the node');
    assert.ok(a - started >= 9_000, `not before 10 s without data (closed after ${Math.round(a - started)} ms)`);
    const m = await httpGet(`${target.url}/metrics`);
    assert.match(m.body, /^skein_cluster_idle_closed_total [2-9]/m);
    await waitForMembership(cluster, { timeoutMs: 10_000 });  // members' connections were not touched
  });

  it('refuses to start with a TLS directory that lacks the node key', async () => {
    const dir = res.tempDir('skein-halftls-');
    fs.copyFileSync(path.join(dataDir, 'tls', 'n1', 'ca.pem'), path.join(dir, 'ca.pem'));
    fs.copyFileSync(path.join(dataDir, 'tls', 'n1', 'node.pem'), path.join(dir, 'node.pem'));
    const r = spawnSync(skeinDemoPath(), ['node', '--name', 'half', '--listen', '127.0.0.1:0', '--cluster-port', '0',
      '--data', path.join(dir, 'data'), '--cluster-tls-dir', dir], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1, `exit ${r.status} ${r.signal}: ${r.stderr}`);
    assert.match(r.stderr, /node\.key is missing/);
  });
});
