// Cluster test: client TLS (issue 14, item 4). A throwaway CA and a server
// certificate for 127.0.0.1 (made here with the openssl tool), a 2-node
// `launch --tls-cert --tls-key`:
//  - both nodes serve https: launch prints https:// URLs, /cluster lists
//    the members with https:// URLs and /gateway hands out one;
//  - a chat over wss:// (verified against the CA) across the two nodes;
//  - an SSE stream over https carries the chat;
//  - plain http and garbage on the TLS port close that connection only (the
//    node answers /healthz over https afterwards and counts the failed
//    handshakes); a client that opens TCP and never starts the handshake is
//    closed by the node within its 10 s handshake timeout;
//  - a client that does not trust the CA is refused (certificate check);
//  - a node given --tls-cert without --tls-key refuses to start (exit 1).
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/client_tls.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { Resources, httpGet, httpGetJson, trustCa, waitForMembership, wsUrl, skeinDemoPath } from './cluster.mjs';
import { freePorts, runTool } from './node.mjs';

const isSaid = (d) => d !== null && typeof d === 'object' && d.type === 'said';

function openssl(args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA and a server certificate for IP 127.0.0.1 / localhost signed by it, in dir. */
function makeCerts(dir) {
  const p = (f) => path.join(dir, f);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=skein test CA', '-keyout', p('ca.key'), '-out', p('ca.pem')]);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1',
    '-keyout', p('server.key'), '-out', p('server.csr')]);
  fs.writeFileSync(p('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-days', '1', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
    '-CAcreateserial', '-extfile', p('san.ext'), '-out', p('server.pem')]);
  return { ca: fs.readFileSync(p('ca.pem'), 'utf8'), cert: p('server.pem'), key: p('server.key') };
}

/** The value of an unlabelled counter in a Prometheus text exposition. */
function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Resolves with how the socket ended ('closed' or the error) within timeoutMs, else 'open'. */
function socketEnd(socket, timeoutMs) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('open'), timeoutMs);
    socket.once('close', () => { clearTimeout(timer); resolve('closed'); });
    socket.once('error', () => {});
  });
}

describe('client TLS', { timeout: 150_000 }, () => {
  const res = new Resources();
  let certs;
  let cluster;
  let idle;         // a TCP connection that never starts its TLS handshake
  let idleOpened;   // when it was opened (ms)
  let idleEnd;      // promise: how it ended

  before(async () => {
    certs = makeCerts(res.tempDir('skein-client-tls-certs-'));
    trustCa(certs.ca);
    cluster = await res.launch({ nodes: 2, dataDir: res.tempDir('skein-client-tls-'),
      extraArgs: ['--tls-cert', certs.cert, '--tls-key', certs.key] });
    await waitForMembership(cluster);
    // Opened now and checked at the end: the handshake timeout closes it.
    const port = Number(new URL(cluster.nodes[0].url).port);
    idle = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => { idle.once('connect', resolve); idle.once('error', reject); });
    idleOpened = Date.now();
    idleEnd = socketEnd(idle, 20_000);
  });

  after(async () => {
    idle?.destroy();
    trustCa(undefined);
    await res.cleanup();
  });

  it('serves https with https:// URLs in /cluster and /gateway', async () => {
    for (const n of cluster.nodes) assert.match(n.url, /^https:\/\/127\.0\.0\.1:\d+$/, `launch printed ${n.url}`);
    const view = await httpGetJson(`${cluster.nodes[0].url}/cluster`);
    for (const m of view.members) assert.match(m.url, /^https:\/\//, `member ${m.name} advertises ${m.url}`);
    const gw = await httpGetJson(`${cluster.nodes[1].url}/gateway`);
    assert.match(gw.url, /^https:\/\//, `/gateway hands out ${gw.url}`);
  });

  it('carries a chat over wss:// across nodes and an SSE stream over https', async () => {
    const [a, b] = cluster.nodes;
    // SSE over https on node a, reading events as they come.
    const events = [];
    let sseResponse;
    const sse = https.get(`${a.url}/sse/chat/tls-room?user=sam`, { ca: certs.ca, agent: false }, (r) => {
      sseResponse = r;
      r.setEncoding('utf8');
      r.on('data', (c) => { events.push(c); });
    });
    sse.on('error', () => {});
    const alice = await res.connect(wsUrl(a.url, '/ws/chat/tls-room?user=alice'), { label: 'alice' });
    const bob = await res.connect(wsUrl(b.url, '/ws/chat/tls-room?user=bob'), { label: 'bob' });
    assert.match(alice.url, /^wss:\/\//);
    await bob.nextData((d) => d !== null && typeof d === 'object' && d.type === 'history', 15_000, 'bob joined');
    await alice.send({ type: 'say', text: 'over wss' });
    const said = await bob.nextData((d) => isSaid(d) && d.text === 'over wss', 15_000, 'alice on the other node');
    assert.equal(said.data.user, 'alice');
    await bob.send({ type: 'say', text: 'back over wss' });
    await alice.nextData((d) => isSaid(d) && d.text === 'back over wss', 15_000, 'bob on the other node');
    // The SSE client saw both messages.
    const deadline = Date.now() + 15_000;
    while (!events.join('').includes('back over wss') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const text = events.join('');
    assert.equal(sseResponse?.statusCode, 200);
    assert.match(text, /event: client\n/);
    assert.ok(text.includes('over wss') && text.includes('back over wss'), `SSE events: ${text.slice(0, 500)}`);
    sse.destroy();
  });

  it('closes plain http, garbage and untrusting clients on the TLS port; the node stays up', async () => {
    const n = cluster.nodes[0];
    const port = Number(new URL(n.url).port);
    const before = metric((await httpGet(`${n.url}/metrics`)).body, 'skein_tls_handshake_failures_total');
    // Plain HTTP to the TLS port: no HTTP answer, the connection is closed.
    await assert.rejects(httpGet(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 5_000 }),
      (e) => !/timed out/.test(e.message), 'plain http is closed, not left hanging');
    // Garbage bytes.
    const g = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => { g.once('connect', resolve); g.once('error', reject); });
    g.write(Buffer.concat([Buffer.from([0xff, 0x00, 0x13, 0x37]), Buffer.from('garbage, not a ClientHello\r\n\r\n')]));
    assert.equal(await socketEnd(g, 5_000), 'closed', 'garbage closes the connection');
    // A client that does not trust the CA: its own check refuses the node.
    await assert.rejects(new Promise((resolve, reject) => {
      const r = https.get(`${n.url}/healthz`, { agent: false }, resolve);
      r.on('error', reject);
    }), (e) => /certificate/i.test(e.message) || e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'an untrusted certificate');
    // The node still serves, over https.
    const health = await httpGet(`${n.url}/healthz`);
    assert.equal(health.status, 200);
    const after = metric((await httpGet(`${n.url}/metrics`)).body, 'skein_tls_handshake_failures_total');
    assert.ok(after >= before + 2, `skein_tls_handshake_failures_total went from ${before} to ${after}`);
  });

  it('closes a connection that never finishes its handshake within the timeout', async () => {
    assert.equal(await idleEnd, 'closed', 'the idle pre-handshake connection was closed by the node');
    const heldMs = Date.now() - idleOpened;
    assert.ok(heldMs >= 8_000, `closed after ${heldMs} ms: not before the ~10 s handshake timeout`);
    assert.equal((await httpGet(`${cluster.nodes[0].url}/healthz`)).status, 200);
  });

  it('refuses to start with --tls-cert alone (exit 1)', async () => {
    const [port, clusterPort] = await freePorts(2);
    const r = await runTool(skeinDemoPath(), ['node', '--name', 'half', '--listen', `127.0.0.1:${port}`,
      '--cluster-port', String(clusterPort), '--data', res.tempDir('skein-client-tls-half-'),
      '--tls-cert', certs.cert], { timeoutMs: 20_000 });
    assert.equal(r.code, 1, `exit code ${r.code}; stderr: ${r.stderr.slice(-1000)}`);
    assert.match(r.stderr, /--tls-cert and --tls-key/);
  });
});
