// Cluster test: the publish API (issue 16, item 3), against a real 2-node
// `launch` with client auth (an HS256 secret) and the admin token:
//  - POST /api/sessions/counter/{id}/messages through the node that does NOT
//    own the session answers 200 {"result":{"value":V}} and a connected
//    WebSocket client of the session sees the broadcast;
//  - a rejection by the behaviour answers 400 with its message;
//  - no token -> 401; a client JWT for another session -> 403, one for this
//    session -> 200;
//  - the same Idempotency-Key twice -> the same answer, applied once;
//  - the same Idempotency-Key with another body -> 422 idempotency_key_reused;
//  - publishes sent while the session is moved back and forth (live
//    handoffs) are all answered 200 and applied once (retried at the new
//    owner instead of 503).
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/publish.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Resources, waitForMembership, findIdOwnedBy, wsUrl, waitFor } from './cluster.mjs';

const SECRET = 'the-hs256-publish-secret-0123456789';
const b64url = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
function hs256(claims) {
  const data = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${data}.${crypto.createHmac('sha256', SECRET).update(data).digest('base64url')}`;
}

async function publish(node, key, body, headers = {}) {
  const res = await fetch(`${node.url}/api/sessions/${key}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, text, json };
}

describe('skein cluster: publish API', { timeout: 120_000 }, () => {
  const res = new Resources();
  let cluster;
  let admin;
  let key;
  let id;
  let other;

  before(async () => {
    const dataDir = res.tempDir('skein-publish-');
    const keys = res.tempDir('skein-publish-keys-');
    const secretFile = path.join(keys, 'jwt.secret');
    fs.writeFileSync(secretFile, SECRET, { mode: 0o600 });
    cluster = await res.launch({ nodes: 2, dataDir, extraArgs: ['--jwt-secret-file', secretFile] });
    await waitForMembership(cluster);
    admin = { authorization: `Bearer ${fs.readFileSync(path.join(dataDir, 'admin.token'), 'utf8').trim()}` };
    ({ id, key } = await findIdOwnedBy(cluster, { kind: 'counter', prefix: 'pub-', owner: 'n1' }));
    other = cluster.node('n2');  // not the owner
  }, { timeout: 90_000 });

  after(async () => { await res.cleanup(); }, { timeout: 40_000 });

  it('a publish via a non-owner answers with the result and reaches connected clients', async () => {
    const token = hs256({ sub: 'watcher', sessions: [key] });
    const ws = await res.connect(wsUrl(cluster.node('n1').url, `/ws/${key}?token=${token}`));
    await ws.nextData((d) => d.value === 0, 10_000, 'the initial value');
    const r = await publish(other, key, { op: 'add', by: 5 }, admin);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { result: { value: 5 } });
    await ws.nextData((d) => d.value === 5, 10_000, 'the broadcast of the publish');

    const bad = await publish(other, key, { op: 'add', by: 'x' }, admin);
    assert.equal(bad.status, 400, bad.text);
    assert.deepEqual(bad.json, { error: 'by must be an integer', code: 'bad_input' });
    const notJson = await publish(other, key, '{"op":', admin);
    assert.equal(notJson.status, 400, notJson.text);
  });

  it('needs a token: none -> 401, a client token for another session -> 403, for this one -> 200', async () => {
    const none = await publish(other, key, { op: 'add', by: 1 });
    assert.equal(none.status, 401, none.text);
    const wrongAdmin = await publish(other, key, { op: 'add', by: 1 }, { authorization: 'Bearer nope' });
    assert.equal(wrongAdmin.status, 401, wrongAdmin.text);
    const elsewhere = await publish(other, key, { op: 'add', by: 1 },
      { authorization: `Bearer ${hs256({ sub: 'mallory', sessions: ['counter/somewhere-else'] })}` });
    assert.equal(elsewhere.status, 403, elsewhere.text);
    const before = await publish(other, key, { op: 'add', by: 0 }, admin);
    const mine = await publish(other, key, { op: 'add', by: 1 },
      { authorization: `Bearer ${hs256({ sub: 'bob', sessions: [key] })}` });
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.json.result.value, before.json.result.value + 1, 'the 401/403 publishes applied nothing');
  });

  it('the same Idempotency-Key twice is applied once and answered the same', async () => {
    const start = (await publish(other, key, { op: 'add', by: 0 }, admin)).json.result.value;
    const h = { ...admin, 'idempotency-key': `k-${crypto.randomUUID()}` };
    const first = await publish(other, key, { op: 'add', by: 10 }, h);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.result.value, start + 10);
    const again = await publish(cluster.node('n1'), key, { op: 'add', by: 10 }, h);
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.json, first.json, 'the repeat gets the first answer');
    const now = (await publish(other, key, { op: 'add', by: 0 }, admin)).json.result.value;
    assert.equal(now, start + 10, 'applied once');
    // Another key is another publish.
    const fresh = await publish(other, key, { op: 'add', by: 1 }, { ...admin, 'idempotency-key': `k-${crypto.randomUUID()}` });
    assert.equal(fresh.json.result.value, start + 11);
  });

  it('the same Idempotency-Key with another body is refused with 422, nothing applied', async () => {
    const start = (await publish(other, key, { op: 'add', by: 0 }, admin)).json.result.value;
    const h = { ...admin, 'idempotency-key': `k-${crypto.randomUUID()}` };
    const first = await publish(other, key, { op: 'add', by: 5 }, h);
    assert.equal(first.status, 200, first.text);
    const reused = await publish(cluster.node('n1'), key, { op: 'add', by: 6 }, h);
    assert.equal(reused.status, 422, reused.text);
    assert.equal(reused.json.error, 'idempotency_key_reused');
    // The same body with its keys in another order and other spacing is the same body.
    const same = await publish(other, key, '{ "by": 5, "op": "add" }', h);
    assert.equal(same.status, 200, same.text);
    assert.deepEqual(same.json, first.json, 'the repeat gets the first answer');
    const now = (await publish(other, key, { op: 'add', by: 0 }, admin)).json.result.value;
    assert.equal(now, start + 5, 'only the first was applied');
  });

  it('a publish that meets a handoff is retried at the new owner, not answered 503', async () => {
    const { key: moving } = await findIdOwnedBy(cluster, { kind: 'counter', prefix: 'mv-', owner: 'n1' });
    const start = (await publish(other, moving, { op: 'add', by: 0 }, admin)).json.result.value;
    let stop = false;
    const statuses = [];
    const failures = [];
    const loop = async (node) => {
      while (!stop) {
        const r = await publish(node, moving, { op: 'add', by: 1 }, admin);
        statuses.push(r.status);
        if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
      }
    };
    const loops = [loop(cluster.node('n1')), loop(other), loop(cluster.node('n1')), loop(other)];
    // Move it back and forth while the publishes run (each move is a live handoff).
    for (const to of ['n2', 'n1', 'n2', 'n1']) {
      const before = statuses.length;
      await waitFor(() => statuses.length >= before + 10, { timeoutMs: 20_000, what: 'publishes between moves' });
      const r = await fetch(`${other.url}/admin/move?key=${encodeURIComponent(moving)}&to=${to}`,
        { method: 'POST', headers: admin });
      assert.equal(r.status, 200, await r.text());
    }
    const before = statuses.length;
    await waitFor(() => statuses.length >= before + 10, { timeoutMs: 20_000, what: 'publishes after the moves' });
    stop = true;
    await Promise.all(loops);
    assert.deepEqual(failures, [], 'publishes during the handoffs');
    const now = (await publish(other, moving, { op: 'add', by: 0 }, admin)).json.result.value;
    assert.equal(now, start + statuses.length, 'every publish answered 200 was applied once');
  });

  it('refuses unknown kinds and malformed paths', async () => {
    const unknown = await publish(other, `nope/${id}`, {}, admin);
    assert.equal(unknown.status, 404, unknown.text);
    const noSuffix = await fetch(`${other.url}/api/sessions/${key}`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(noSuffix.status, 404);
  });
});
