// Resume credentials and SSE resume with a standard EventSource's only
// state, Last-Event-ID (issue 12 item 3, issue 14 item 5):
//  - the welcome frame carries a resume_token (32 hex digits); a resume
//    (?client=) without one is refused before the upgrade, with a wrong one
//    closed 1008, with the right one it keeps the client id;
//  - /ws/mcp/... is refused (MCP sessions speak only through /mcp);
//  - SSE event ids are CLIENT.SEQ.TOKEN and the stream starts with `retry:`;
//    a new stream on another node with only `Last-Event-ID` gets the events
//    addressed to that client that it missed; a forged token is refused.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/resume_token.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { Resources, waitFor, waitForMembership, wsUrl } from './cluster.mjs';

/** Opens an SSE stream; collects parsed events [{id, event, data, retry}]. */
function sse(url, headers = {}) {
  const events = [];
  let buf = '';
  let req;
  const opened = new Promise((resolve, reject) => {
    req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = {};
          for (const line of block.split('\n')) {
            const k = line.indexOf(':');
            if (k <= 0) continue;
            ev[line.slice(0, k)] = line.slice(k + 1).replace(/^ /, '');
          }
          if (Object.keys(ev).length) events.push(ev);
        }
      });
      resolve(res);
    });
    req.on('error', reject);
  });
  return { events, opened, close: () => req.destroy() };
}

function post(url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('resume tokens; SSE resume by Last-Event-ID', () => {
  const res = new Resources();
  after(() => res.cleanup());
  let cluster;

  it('WebSocket: welcome carries a resume_token; resumes without it or with a wrong one are refused', { timeout: 60_000 }, async () => {
    cluster = await res.launch({ nodes: 3, dataDir: res.tempDir('skein-token-') });
    await waitForMembership(cluster);
    const [n1, n2] = cluster.nodes;
    const a = await res.connect(wsUrl(n1.url, '/ws/counter/tok'), { label: 'a' });
    await a.nextData((d) => d && Object.hasOwn(d, 'value'), 10_000, 'value');
    const { client, resume_token: token } = a.welcome;
    assert.match(token, /^[0-9a-f]{32}$/);
    assert.match(client, /^[0-9a-f]{32}$/);
    await a.close();

    const status = await new Promise((resolve) => {
      const ws = new WebSocket(wsUrl(n2.url, `/ws/counter/tok?client=${client}&last_seq=1`));
      ws.on('unexpected-response', (_, r) => { resolve(r.statusCode); ws.terminate(); });
      ws.on('open', () => { resolve('open'); ws.terminate(); });
      ws.on('error', () => {});
    });
    assert.equal(status, 400, 'a resume without resume_token is refused before the upgrade');

    const forged = 'f'.repeat(32);
    const closed = await new Promise((resolve) => {
      const ws = new WebSocket(wsUrl(n2.url, `/ws/counter/tok?client=${client}&last_seq=1&resume_token=${forged}`));
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      ws.on('error', () => {});
    });
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /resume_token/);

    const b = await res.connect(wsUrl(n2.url, `/ws/counter/tok?client=${client}&last_seq=1&resume_token=${token}`), { label: 'b' });
    await waitFor(() => b.welcome, { timeoutMs: 5_000, what: 'the welcome of the resumed connection' });
    assert.equal(b.welcome.client, client);
    b.send({ op: 'add', by: 2 });
    await b.nextData((d) => d?.value === 2, 10_000, 'value 2 on the resumed connection');
    await b.close();

    // Transport-private kinds cannot be opened as a WebSocket (or an SSE stream).
    const mcp = await new Promise((resolve) => {
      const ws = new WebSocket(wsUrl(n1.url, '/ws/mcp/0123456789abcdef0123456789abcdef'));
      ws.on('unexpected-response', (_, r) => { resolve(r.statusCode); ws.terminate(); });
      ws.on('open', () => { resolve('open'); ws.terminate(); });
      ws.on('error', () => {});
    });
    assert.equal(mcp, 404, '/ws/mcp/... refused');
  });

  it('SSE: ids are CLIENT.SEQ.TOKEN; Last-Event-ID alone resumes the client on another node, targeted events included', { timeout: 60_000 }, async () => {
    const [n1, n2, n3] = cluster.nodes;
    const s1 = sse(`${n1.url}/sse/counter/sse-tok`);
    await s1.opened;
    await waitFor(() => s1.events.some((e) => e.id), { timeoutMs: 10_000, what: 'the first event with an id' });
    const first = s1.events[0];
    assert.equal(first.retry, '1000', 'the stream starts with retry:');
    const { client, resume_token: token } = JSON.parse(first.data);
    const valueEvent = s1.events.find((e) => e.id);
    assert.match(valueEvent.id, new RegExp(`^${client}\\.\\d+\\.${token}$`));
    // An input the counter rejects: the error event goes to this client only.
    const r = await post(`${n1.url}/sse/counter/sse-tok?client=${client}`, '{"op":"add","by":"x"}');
    assert.equal(r.status, 202);
    s1.close();  // whether or not the error event reached the socket, it was not read

    const lastId = valueEvent.id;
    const s2 = sse(`${n2.url}/sse/counter/sse-tok`, { 'last-event-id': lastId });
    await s2.opened;
    await waitFor(() => s2.events.some((e) => e.data && /"type":"error"/.test(e.data)), { timeoutMs: 10_000, what: 'the targeted error event after resume', describe: () => JSON.stringify(s2.events) });
    assert.equal(JSON.parse(s2.events[0].data).client, client, 'the resumed stream is the same client');
    const err = s2.events.find((e) => e.data && /"type":"error"/.test(e.data));
    assert.match(err.id, new RegExp(`^${client}\\.\\d+\\.${token}$`));
    s2.close();

    const forged = `${client}.${lastId.split('.')[1]}.${'0'.repeat(32)}`;
    const s3 = sse(`${n3.url}/sse/counter/sse-tok`, { 'last-event-id': forged });
    await s3.opened;
    await waitFor(() => s3.events.some((e) => e.event === 'close'), { timeoutMs: 10_000, what: 'a refused resume', describe: () => JSON.stringify(s3.events) });
    assert.equal(JSON.parse(s3.events.find((e) => e.event === 'close').data).code, 1008);
    assert.ok(!s3.events.some((e) => e.data && /"type":"error"/.test(e.data)), 'a forged token saw another client\'s event');
    s3.close();
  });
});
