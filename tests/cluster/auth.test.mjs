// Cluster test: client authentication (JWT) and the admin token (issue 14,
// items 1 and 2), against a real 2-node `launch` given both an HS256 secret
// and an RSA public key (made with openssl at test time).
//  - /ws, /sse (GET and the POST publish), /mcp: no token, expired,
//    nbf in the future, wrong signature, wrong algorithm (none; HS256 keyed
//    with the public key's PEM) -> 401 before any upgrade or stream;
//  - good HS256 (?token=) and RS256 (Authorization: Bearer) tokens work;
//    the token's sub is the chat user (a ?user= in the query is ignored);
//  - a sessions claim refuses other sessions (403);
//  - /admin/* 401 without the admin token; ctl with --token-file and with
//    SKEIN_ADMIN_TOKEN; launch's DATA/admin.token has mode 0600;
//  - /cluster and /cluster/events: no mcp/ keys, no
//    Access-Control-Allow-Origin: * (only a member's own origin is echoed);
//  - a lone `node` without auth options logs `auth: off` once and creates
//    DATA/admin.token (0600), which its /admin/* then requires.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/auth.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Resources, httpGet, httpGetJson, waitFor, waitForMembership, wsUrl, skeinDemoPath } from './cluster.mjs';
import { ctl } from './procs.mjs';

const SECRET = 'the-hs256-test-secret-0123456789';
const now = () => Math.floor(Date.now() / 1000);
const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function hs256(claims, key = SECRET, header = { alg: 'HS256', typ: 'JWT' }) {
  const data = `${b64url(header)}.${b64url(claims)}`;
  return `${data}.${crypto.createHmac('sha256', key).update(data).digest('base64url')}`;
}

function rs256(claims, privatePem) {
  const data = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${data}.${crypto.sign('sha256', Buffer.from(data), privatePem).toString('base64url')}`;
}

const isSaid = (d) => d !== null && typeof d === 'object' && d.type === 'said';
const isHistory = (d) => d !== null && typeof d === 'object' && d.type === 'history';

const initializeBody = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'auth-test', version: '1' } },
};

/** Status of a request; streams (SSE) are aborted once the head arrived. */
async function statusOf(url, { method = 'GET', headers = {}, body } = {}) {
  const ac = new AbortController();
  const res = await fetch(url, { method, headers, body, signal: ac.signal });
  const out = { status: res.status, headers: res.headers };
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) ac.abort();
  else out.body = await res.text();
  return out;
}

/** The WebSocket upgrade request's answer: {status, upgraded, headers}. */
function upgrade(url, headers = {}) {
  return httpGet(url, {
    headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': crypto.randomBytes(16).toString('base64'), ...headers },
  });
}

describe('skein cluster: authentication', { timeout: 170_000 }, () => {
  const res = new Resources();
  let dataDir;
  let cluster;
  let n1;
  let n2;
  let rsaPrivate;
  let rsaPublic;
  let adminToken;

  before(async () => {
    dataDir = res.tempDir('skein-auth-');
    const keys = res.tempDir('skein-auth-keys-');
    const secretFile = path.join(keys, 'jwt.secret');
    fs.writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });  // one trailing newline: not part of the key
    const priv = path.join(keys, 'rsa.pem');
    const pub = path.join(keys, 'rsa.pub.pem');
    for (const args of [['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', priv],
      ['pkey', '-in', priv, '-pubout', '-out', pub]]) {
      const r = spawnSync('openssl', args, { encoding: 'utf8' });
      assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
    }
    rsaPrivate = fs.readFileSync(priv, 'utf8');
    rsaPublic = fs.readFileSync(pub, 'utf8');
    cluster = await res.launch({ nodes: 2, dataDir, extraArgs: ['--jwt-secret-file', secretFile, '--jwt-public-key-file', pub] });
    await waitForMembership(cluster);
    n1 = cluster.node('n1');
    n2 = cluster.node('n2');
    adminToken = fs.readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim();
  }, { timeout: 90_000 });

  after(async () => {
    await res.cleanup();
  }, { timeout: 40_000 });

  it('launch writes DATA/admin.token with mode 0600', () => {
    const st = fs.statSync(path.join(dataDir, 'admin.token'));
    assert.equal(st.mode & 0o777, 0o600, `admin.token mode ${(st.mode & 0o777).toString(8)}`);
    assert.match(adminToken, /^[0-9a-f]{64}$/);
  });

  it('every client route answers 401 before any upgrade for missing or bad tokens', { timeout: 60_000 }, async () => {
    const t = now();
    const bad = {
      'no token': null,
      expired: hs256({ sub: 'alice', exp: t - 10 }),
      'nbf in the future': hs256({ sub: 'alice', nbf: t + 3600 }),
      'wrong signature': hs256({ sub: 'alice' }, 'not-the-secret'),
      'alg none': `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'alice' })}.`,
      'HS256 keyed with the public key': hs256({ sub: 'alice' }, rsaPublic),
      'RS256 signed by another key': rs256({ sub: 'alice' }, crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
      'not a JWT': 'hello',
    };
    for (const [what, token] of Object.entries(bad)) {
      const auth = token ? { authorization: `Bearer ${token}` } : {};
      const q = token ? `?token=${encodeURIComponent(token)}` : '';
      const ws = await upgrade(`${n1.url}/ws/chat/auth-room${q}`);
      assert.equal(ws.status, 401, `/ws with ${what}: ${ws.status} ${ws.body}`);
      assert.ok(!ws.upgraded, `/ws with ${what} must not upgrade`);
      assert.equal(ws.headers['www-authenticate'], 'Bearer');
      const wsHeader = await upgrade(`${n1.url}/ws/chat/auth-room`, auth);
      assert.equal(wsHeader.status, 401, `/ws (header) with ${what}`);
      const sse = await statusOf(`${n1.url}/sse/chat/auth-room${q}`, { headers: { accept: 'text/event-stream' } });
      assert.equal(sse.status, 401, `GET /sse with ${what}`);
      const post = await statusOf(`${n2.url}/sse/chat/auth-room`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ type: 'say', text: 'x' }),
      });
      assert.equal(post.status, 401, `POST /sse with ${what}: ${post.body}`);
      const mcp = await statusOf(`${n1.url}/mcp`, {
        method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...auth }, body: JSON.stringify(initializeBody),
      });
      assert.equal(mcp.status, 401, `POST /mcp with ${what}: ${mcp.body}`);
      assert.equal(JSON.parse(mcp.body).error?.code, -32000, `/mcp 401 is a JSON-RPC error: ${mcp.body}`);
    }
    // Unknown kinds are not revealed without a token either.
    assert.equal((await upgrade(`${n1.url}/ws/nope/x`)).status, 401);
  });

  it('a good token works on every route; its sub is the chat user', { timeout: 60_000 }, async () => {
    const alice = hs256({ sub: 'alice', exp: now() + 600, nbf: now() - 5 });
    const bob = rs256({ sub: 'bob', exp: now() + 600 }, rsaPrivate);
    // Browser style (?token=), and a ?user= that must not win over the token.
    const a = await res.connect(wsUrl(n1.url, `/ws/chat/auth-room?user=mallory&token=${alice}`), { label: 'alice' });
    await a.next((f) => isHistory(f.data), 10_000, 'history');
    // RS256 in the Authorization header upgrades.
    const up = await upgrade(`${n2.url}/ws/chat/auth-room`, { authorization: `Bearer ${bob}` });
    assert.equal(up.status, 101, `RS256 bearer upgrade: ${up.status} ${up.body}`);
    await a.send({ type: 'say', text: 'hello from alice' });
    const said = await a.next((f) => isSaid(f.data), 10_000, 'said');
    assert.equal(said.data.user, 'alice', `the user is the token's sub: ${JSON.stringify(said.data)}`);
    // Publish through POST /sse with bob's token: everyone sees user bob.
    const post = await statusOf(`${n2.url}/sse/chat/auth-room?user=mallory`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bob}` }, body: JSON.stringify({ type: 'say', text: 'hi from bob' }),
    });
    assert.equal(post.status, 202, `POST /sse with a good token: ${post.body}`);
    const fromBob = await a.next((f) => isSaid(f.data) && f.data.text === 'hi from bob', 10_000, "bob's message");
    assert.equal(fromBob.data.user, 'bob');
    const sse = await statusOf(`${n2.url}/sse/chat/auth-room?token=${alice}`, { headers: { accept: 'text/event-stream' } });
    assert.equal(sse.status, 200, 'GET /sse with a good token');
    const mcp = await statusOf(`${n1.url}/mcp`, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${alice}` }, body: JSON.stringify(initializeBody),
    });
    assert.equal(mcp.status, 200, `POST /mcp initialize with a good token: ${mcp.body}`);
    assert.match(mcp.headers.get('mcp-session-id') ?? '', /^[0-9a-f]{32}$/);
  });

  it('the sessions claim refuses other sessions with 403', { timeout: 30_000 }, async () => {
    const token = hs256({ sub: 'carol', sessions: ['chat/team-*', 'counter/c1'] });
    const q = `?token=${token}`;
    assert.equal((await upgrade(`${n1.url}/ws/chat/lobby${q}`)).status, 403);
    assert.equal((await upgrade(`${n1.url}/ws/counter/c2${q}`)).status, 403);
    assert.equal((await statusOf(`${n1.url}/sse/chat/lobby${q}`, { headers: { accept: 'text/event-stream' } })).status, 403);
    const mcp = await statusOf(`${n1.url}/mcp`, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` }, body: JSON.stringify(initializeBody),
    });
    assert.equal(mcp.status, 403, 'an MCP session is mcp/ID: not in the claim');
    assert.equal((await upgrade(`${n1.url}/ws/chat/team-7${q}`)).status, 101);
    assert.equal((await upgrade(`${n1.url}/ws/counter/c1${q}`)).status, 101);
  });

  it('/admin/* needs the admin token; ctl works with --token-file and SKEIN_ADMIN_TOKEN', { timeout: 60_000 }, async () => {
    const post = (url, headers = {}) => statusOf(url, { method: 'POST', headers });
    for (const route of ['/admin/drain?node=nope', '/admin/move?key=chat/x&to=n2']) {
      const none = await post(`${n1.url}${route}`);
      assert.equal(none.status, 401, `${route} without a token`);
      assert.equal(none.headers.get('access-control-allow-origin'), null, `${route}: no CORS`);
      // What a page of another origin can send without CORS: a form POST, no Authorization.
      const form = await statusOf(`${n1.url}${route}`, { method: 'POST', body: 'node=n1',
        headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(form.status, 401, `${route}: a cross-origin form POST is refused`);
      assert.equal(form.headers.get('access-control-allow-origin'), null);
      assert.equal((await post(`${n1.url}${route}`, { authorization: 'Bearer wrong' })).status, 401, `${route}, wrong token`);
      // A client JWT is not the admin token.
      assert.equal((await post(`${n1.url}${route}`, { authorization: `Bearer ${hs256({ sub: 'admin' })}` })).status, 401);
    }
    const ok = await post(`${n1.url}/admin/drain?node=nope`, { authorization: `Bearer ${adminToken}` });
    assert.notEqual(ok.status, 401, 'the admin token is accepted');

    const tokenFile = path.join(dataDir, 'admin.token');
    let r = await ctl(n1.url, ['move', 'chat/ctl-room', '--to', 'n2']);
    assert.equal(r.code, 1, `ctl without a token fails: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, /admin token/);
    r = await ctl(n1.url, ['move', 'chat/ctl-room', '--to', 'n2', '--token-file', tokenFile]);
    assert.equal(r.code, 0, `ctl --token-file: ${r.stdout} ${r.stderr}`);
    r = await ctl(n1.url, ['move', 'chat/ctl-room', '--to', 'n1'], { env: { SKEIN_ADMIN_TOKEN: adminToken } });
    assert.equal(r.code, 0, `ctl with SKEIN_ADMIN_TOKEN: ${r.stdout} ${r.stderr}`);
    r = await ctl(n1.url, ['move', 'chat/ctl-room', '--to', 'n2', '--data', dataDir]);
    assert.equal(r.code, 0, `ctl --data DIR reads DIR/admin.token: ${r.stdout} ${r.stderr}`);
  });

  it('/cluster and /cluster/events list no mcp/ keys and allow no foreign origin', { timeout: 30_000 }, async () => {
    // An MCP session is active on some node (the previous step made one;
    // make one per node so each /cluster would have had one).
    const alice = hs256({ sub: 'alice' });
    for (const n of [n1, n2]) {
      const r = await statusOf(`${n.url}/mcp`, {
        method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${alice}` }, body: JSON.stringify(initializeBody),
      });
      assert.equal(r.status, 200);
    }
    for (const n of [n1, n2]) {
      const evil = await httpGet(`${n.url}/cluster`, { headers: { origin: 'http://evil.example' } });
      assert.equal(evil.status, 200);
      assert.equal(evil.headers['access-control-allow-origin'], undefined, `${n.name} /cluster must not allow a foreign origin`);
      const view = JSON.parse(evil.body);
      assert.ok(!view.sessions.some((k) => k.startsWith('mcp/')), `${n.name} /cluster lists mcp/ keys: ${view.sessions}`);
      assert.ok(!view.session_stats.some((s) => s.key.startsWith('mcp/')), `${n.name} session_stats has mcp/ keys`);
      const other = n === n1 ? n2 : n1;
      const member = await httpGet(`${n.url}/cluster`, { headers: { origin: other.url } });
      assert.equal(member.headers['access-control-allow-origin'], other.url, 'a member origin (the dashboard) is echoed');
      // The event feed: no ACAO for a foreign origin, no mcp/ events.
      const ac = new AbortController();
      const es = await fetch(`${n.url}/cluster/events`, { headers: { origin: 'http://evil.example' }, signal: ac.signal });
      assert.equal(es.status, 200);
      assert.equal(es.headers.get('access-control-allow-origin'), null, `${n.name} /cluster/events must not allow a foreign origin`);
      const reader = es.body.getReader();
      let text = '';
      const deadline = Date.now() + 3000;
      while (!text.includes('session_activated') && Date.now() < deadline) {
        const chunk = await Promise.race([reader.read(), new Promise((r) => setTimeout(() => r({ timeout: true }), 500))]);
        if (chunk.done) break;
        if (chunk.value) text += Buffer.from(chunk.value).toString('utf8');
      }
      ac.abort();
      assert.ok(!text.includes('"mcp/'), `${n.name} /cluster/events mentions an mcp/ session: ${text.slice(0, 500)}`);
    }
    const both = await httpGetJson(`${n1.url}/cluster`);
    assert.ok(both.sessions.some((k) => k.startsWith('chat/')), `chat sessions are still listed: ${both.sessions}`);
  });

  it('a node without options: "auth: off" once, its own DATA/admin.token (0600)', { timeout: 30_000 }, async () => {
    const port = () => new Promise((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
    });
    const [http, cport] = [await port(), await port()];
    const data = path.join(res.tempDir('skein-auth-lone-'), 'n');
    const child = spawn(skeinDemoPath(), ['node', '--name', 'lone', '--listen', `127.0.0.1:${http}`, '--cluster-port', String(cport), '--data', data],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => { err += c; });
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = `http://127.0.0.1:${http}`;
      await waitFor(async () => (await httpGet(`${url}/healthz`).catch(() => ({ status: 0 }))).status === 200,
        { timeoutMs: 20_000, what: 'the lone node to serve', describe: () => err.slice(-2000) });
      assert.equal(err.match(/auth: off/g)?.length, 1, `"auth: off" logged once: ${err}`);
      const file = path.join(data, 'admin.token');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const token = fs.readFileSync(file, 'utf8').trim();
      assert.equal((await statusOf(`${url}/admin/move?key=chat/x&to=lone`, { method: 'POST' })).status, 401);
      const ok = await statusOf(`${url}/admin/move?key=chat/x&to=lone`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      assert.notEqual(ok.status, 401, `with DATA/admin.token: ${ok.status} ${ok.body}`);
      // Clients need no token on such a node.
      assert.equal((await upgrade(`${url}/ws/chat/open`)).status, 101);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, `the lone node exits 0 on SIGTERM: ${err.slice(-1000)}`);
    }
  });
});
