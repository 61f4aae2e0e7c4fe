// GET /gateway on a real 3-node cluster (docs/protocol.md):
//  - every node names the same least-loaded `up` node (connections, then
//    sessions, then name), with its URL exactly as /cluster lists it, and
//    the answer follows the load as WebSocket clients come and go;
//  - ?session=kind/id names the session's owner, from every node;
//  - after `ctl drain` of the owner, every node names the new owner and
//    never the drained node;
//  - bad input: 400 for a malformed key, 404 for an unknown kind.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/gateway.test.mjs
//
// Loads travel with the membership heartbeat (500 ms), so the test waits
// (bounded) until every node agrees, and then asserts they all agree.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Resources, httpGet, httpGetJson, waitFor, waitForMembership, findIdOwnedBy, placement, wsUrl,
} from './cluster.mjs';
import { ctl, nodePid, waitProcessGone } from './procs.mjs';

const gateway = (node, query = '') => httpGetJson(`${node.url}/gateway${query}`);

/** Every node's /gateway answer for `query`, keyed by the asking node. */
async function answers(nodes, query = '') {
  const out = {};
  await Promise.all(nodes.map(async (n) => { out[n.name] = await gateway(n, query); }));
  return out;
}

/** Waits until every node answers `expected` (a node name) for `query`. */
async function waitAllName(nodes, expected, query = '', what = '') {
  let last = {};
  await waitFor(async () => {
    last = await answers(nodes, query);
    return Object.values(last).every((a) => a.node === expected);
  }, {
    timeoutMs: 15_000,
    intervalMs: 100,
    what: `every node's /gateway${query} to name ${expected}${what ? ` (${what})` : ''}`,
    describe: () => JSON.stringify(last),
  });
  return last;
}

describe('GET /gateway', { timeout: 150_000 }, () => {
  const res = new Resources();
  let cluster;
  let urls;  // name -> url as /cluster lists it
  let dataDir;

  before(async () => {
    dataDir = res.tempDir('skein-gateway-');
    cluster = await res.launch({ nodes: 3, dataDir });
    const views = await waitForMembership(cluster);
    urls = Object.fromEntries(views.n1.members.map((m) => [m.name, m.url]));
  });
  after(() => res.cleanup());

  it('every node names the same least-loaded node, with its /cluster URL, following the load', async () => {
    const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((n) => cluster.node(n));
    // No clients: all loads 0, the smallest name wins.
    let a = await waitAllName(cluster.nodes, 'n1', '', 'no load: ties broken by name');
    for (const v of Object.values(a)) assert.deepEqual(v, { node: 'n1', url: urls.n1 });
    // Two streams on n1, one on n2, none on n3: n3.
    const open = (node, id) => res.connect(wsUrl(node.url, `/ws/counter/gw-${id}`));
    await open(n1, 'a');
    await open(n1, 'b');
    await open(n2, 'c');
    a = await waitAllName(cluster.nodes, 'n3', '', 'n1 has 2 connections, n2 1, n3 0');
    for (const v of Object.values(a)) assert.deepEqual(v, { node: 'n3', url: urls.n3 });
    // /cluster shows the connection counts the answer came from.
    const view = await httpGetJson(`${n1.url}/cluster`);
    assert.equal(view.members.find((m) => m.name === 'n1').connections, 2, JSON.stringify(view.members));
    // Three on n3 now: n2 (1) is the least loaded.
    for (const id of ['d', 'e', 'f']) await open(n3, id);
    a = await waitAllName(cluster.nodes, 'n2', '', 'n1 2, n2 1, n3 3 connections');
    for (const v of Object.values(a)) assert.deepEqual(v, { node: 'n2', url: urls.n2 });
    // All gone: back to n1 (ties on connections; sessions may differ, so
    // only check that the answer is some node every node agrees on).
    await res.closeClients();
    await waitFor(async () => {
      const all = Object.values(await answers(cluster.nodes));
      return all.every((x) => x.node === all[0].node && x.url === urls[x.node]);
    }, { timeoutMs: 15_000, what: 'every node to agree once the clients left' });
  });

  it('?session= names the owner from every node; after a drain, the new owner', async () => {
    const { id, key } = await findIdOwnedBy(cluster, { kind: 'chat', prefix: 'gw-room-', owner: 'n2' });
    const q = `?session=${encodeURIComponent(key)}`;
    const a = await answers(cluster.nodes, q);
    for (const v of Object.values(a)) assert.deepEqual(v, { node: 'n2', url: urls.n2 });
    // The session is active on n2 (a client there) when n2 drains.
    const c = await res.connect(wsUrl(cluster.node('n1').url, `/ws/chat/${id}?user=gw`));
    await c.nextData((d) => d.type === 'history', 10_000);
    const pid = nodePid(dataDir, 'n2');
    const r = await ctl(cluster.node('n1').url, ['drain', 'n2'], { dataDir });
    assert.equal(r.code, 0, `ctl drain n2: exit ${r.code}\n${r.stdout}${r.stderr}`);
    const survivors = [cluster.node('n1'), cluster.node('n3')];
    let expected;
    await waitFor(async () => {
      expected = (await placement(survivors[0], key)).owner;
      return expected !== 'n2';
    }, { timeoutMs: 30_000, what: `${key} to be placed off n2` });
    const b = await waitAllName(survivors, expected, q, 'the new owner after the drain');
    for (const v of Object.values(b)) assert.deepEqual(v, { node: expected, url: urls[expected] });
    // n2 is no longer a candidate for new clients either.
    for (const v of Object.values(await answers(survivors))) assert.notEqual(v.node, 'n2');
    if (pid) await waitProcessGone(pid, 30_000, 'drained n2 to exit');
  });

  it('bad input: 400 for a malformed key, 404 for an unknown kind, 405 for POST', async () => {
    const n1 = cluster.node('n1');
    let r = await httpGet(`${n1.url}/gateway?session=nokey`);
    assert.equal(r.status, 400, r.body);
    assert.match(JSON.parse(r.body).error, /session/);
    r = await httpGet(`${n1.url}/gateway?session=${encodeURIComponent('nope/x')}`);
    assert.equal(r.status, 404, r.body);
    r = await httpGet(`${n1.url}/gateway?session=chat%2F%01`);
    assert.equal(r.status, 400, r.body);
    const post = await fetch(`${n1.url}/gateway`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
  });
});
