// MCP Streamable HTTP and SSE across nodes (skein-demo, kind `mcp` and `counter`):
//  - the @modelcontextprotocol/sdk client through round-robin nginx: a tool
//    call with progress, and an elicitation whose answer POST lands on a
//    different node than the call;
//  - the same, pinned by hand to three nodes (call on n2, answer on n3);
//  - SEP-1699 resume: a POST stream closed mid-call on n1, resumed by a GET
//    with Last-Event-ID on n2;
//  - the `eventsource` client on /sse reconnecting through another node with
//    Last-Event-ID;
//  - bad input: the spec's status codes and JSON-RPC errors; the node keeps serving;
//  - call.sleep is a session timer: a sleeping tool call answers on its
//    stream (on another node) after kill -9 of the session's owner.
import assert from 'node:assert/strict';
import test from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { EventSource } from 'eventsource';

import { LATEST, delay, mcpHeaders, mcpInitialize, mcpPost, sseEvents, startCluster } from './lib.mjs';
import { nodePid, waitProcessGone } from '../cluster/procs.mjs';
import { waitForMembership } from '../cluster/cluster.mjs';

/** The JSON-RPC message of each POST and the node (X-Skein-Node) that answered it. */
function trackingFetch(log) {
  return async (url, init = {}) => {
    let rpc = null;
    try { rpc = typeof init.body === 'string' ? JSON.parse(init.body) : null; } catch { /* not JSON */ }
    const entry = { method: init.method ?? 'GET', rpc, status: null, node: null };
    log.push(entry);  // in request order; the answer fills in later
    const res = await fetch(url, init);
    entry.status = res.status;
    entry.node = res.headers.get('x-skein-node');
    return res;
  };
}

test('SDK client through nginx: progress, and an elicitation answered on another node', { timeout: 120_000 }, async () => {
  const cluster = await startCluster({ nodes: 3, lb: true });
  const log = [];
  const client = new Client({ name: 'skein-test', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async (req) => ({
    action: 'accept', content: { response: `yes to ${req.params.message}` },
  }));
  try {
    const transport = new StreamableHTTPClientTransport(new URL(`${cluster.url}/mcp`), { fetch: trackingFetch(log) });
    await client.connect(transport);
    assert.match(transport.sessionId, /^[0-9a-f]{32}$/);

    const progress = [];
    const r1 = await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
      onprogress: (p) => progress.push(p),
    });
    assert.equal(r1.content[0].text, 'Tool with progress executed successfully');
    assert.deepEqual(progress.map((p) => p.progress), [0, 50, 100]);

    // Round-robin spreads the POSTs; repeat until the call and its answer
    // were served by different nodes (every attempt must complete anyway).
    let crossed = null;
    for (let attempt = 0; attempt < 6 && !crossed; attempt++) {
      const from = log.length;
      const r = await client.callTool({ name: 'test_elicitation', arguments: { message: `q${attempt}` } });
      assert.equal(r.content[0].text, `User response: action=accept, content={"response":"yes to q${attempt}"}`);
      const mine = log.slice(from);
      const call = mine.find((e) => e.rpc?.method === 'tools/call');
      const answer = mine.find((e) => e.rpc && !e.rpc.method && e.rpc.result?.action === 'accept');
      assert.ok(call && answer, `no call/answer POST in ${JSON.stringify(mine)}`);
      // The result can overtake the answer POST's own 202.
      for (let i = 0; i < 100 && answer.status === null; i++) await delay(20);
      assert.equal(answer.status, 202);
      if (call.node && answer.node && call.node !== answer.node) crossed = { call: call.node, answer: answer.node };
    }
    assert.ok(crossed, `the elicitation answer never landed on another node: ${JSON.stringify(log)}`);
    const nodesSeen = new Set(log.map((e) => e.node).filter(Boolean));
    assert.ok(nodesSeen.size >= 2, `nginx used only ${[...nodesSeen]}`);
    await transport.terminateSession();
  } finally {
    await client.close().catch(() => {});
    await cluster.stop();
  }
});

test('raw MCP pinned to nodes: call on n2, elicitation answer on n3, resume on another node', { timeout: 120_000 }, async () => {
  const cluster = await startCluster({ nodes: 3 });
  const [n1, n2, n3] = cluster.nodes.map((n) => n.url);
  try {
    const session = await mcpInitialize(n1);

    // tools/call on n2 answers with an SSE stream carrying the elicitation request.
    const call = await mcpPost(n2, { jsonrpc: '2.0', id: 7, method: 'tools/call',
      params: { name: 'test_elicitation', arguments: { message: 'Name?' }, _meta: { progressToken: 'p' } } }, { session });
    assert.equal(call.status, 200);
    assert.match(call.headers.get('content-type'), /text\/event-stream/);
    const events = sseEvents(call.body);
    let ev = await events.next();
    assert.equal(ev.value.data, '', 'first event is the priming event');
    assert.match(ev.value.id, /^[0-9a-f]{32}:\d+$/);
    ev = await events.next();
    const req = JSON.parse(ev.value.data);
    assert.equal(req.method, 'elicitation/create');
    assert.equal(req.params.message, 'Name?');

    // The answer goes to n3; the result arrives on n2's stream.
    const ans = await mcpPost(n3, { jsonrpc: '2.0', id: req.id, result: { action: 'accept', content: { response: 'Ada' } } }, { session });
    assert.equal(ans.status, 202);
    ev = await events.next();
    const res = JSON.parse(ev.value.data);
    assert.equal(res.id, 7);
    assert.equal(res.result.content[0].text, 'User response: action=accept, content={"response":"Ada"}');
    assert.equal((await events.next()).done, true, 'the stream ends after the response');

    // SEP-1699: the server closes the POST stream on n1 mid-call; a GET with
    // Last-Event-ID on n2 gets the result.
    const poll = await mcpPost(n1, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'test_reconnection', arguments: {} } }, { session });
    const pollEvents = [];
    for await (const e of sseEvents(poll.body)) pollEvents.push(e);
    const last = pollEvents.filter((e) => e.id).at(-1);
    assert.ok(last, `no event id in ${JSON.stringify(pollEvents)}`);
    assert.ok(pollEvents.some((e) => e.retry === '500'), 'retry field before the close');
    assert.ok(!pollEvents.some((e) => e.data && e.data.includes('"result"')), 'no result on the closed stream');
    const resume = await fetch(`${n2}/mcp`, { headers: { accept: 'text/event-stream', 'mcp-session-id': session,
      'mcp-protocol-version': LATEST, 'last-event-id': last.id } });
    assert.equal(resume.status, 200);
    let result = null;
    for await (const e of sseEvents(resume.body)) {
      if (!e.data) continue;
      const m = JSON.parse(e.data);
      if (m.id === 8) { result = m; break; }
    }
    assert.equal(result?.result?.content?.[0]?.text, 'Reconnection test completed successfully');

    // DELETE on n3; every node answers 404 afterwards.
    const del = await fetch(`${n3}/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': session, 'mcp-protocol-version': LATEST } });
    assert.equal(del.status, 200);
    for (const n of [n1, n2, n3]) {
      const r = await mcpPost(n, { jsonrpc: '2.0', id: 9, method: 'ping' }, { session });
      assert.equal(r.status, 404);
      assert.equal((await r.json()).error.code, -32001);
    }
  } finally {
    await cluster.stop();
  }
});

test('eventsource on /sse reconnects through another node with Last-Event-ID', { timeout: 120_000 }, async () => {
  const cluster = await startCluster({ nodes: 3 });
  const urls = cluster.nodes.map((n) => n.url);
  const key = `counter/sse-${Date.now()}`;
  const post = (n, body) => fetch(`${urls[n]}/sse/${key}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let attempt = 0;
  const seenLastEventId = [];
  const cutters = [];
  const es = new EventSource(`${urls[0]}/sse/${key}`, {
    fetch: async (url, init) => {
      // Attempt k goes to node k (mod 3); the test can cut each stream, as a
      // dropped connection would (the body ends, the client reconnects).
      const target = new URL(url);
      target.port = new URL(urls[attempt % urls.length]).port;
      attempt += 1;
      seenLastEventId.push(new Headers(init.headers).get('last-event-id'));
      const res = await fetch(target, init);
      const reader = res.body.getReader();
      let ctl;
      const body = new ReadableStream({
        start(c) { ctl = c; },
        async pull(c) {
          const { value, done } = await reader.read().catch(() => ({ done: true }));
          try { if (done) c.close(); else c.enqueue(value); } catch { /* cut */ }
        },
      });
      cutters.push(() => { try { ctl.close(); } catch { /* closed */ } reader.cancel().catch(() => {}); });
      return new Response(body, { status: res.status, headers: res.headers });
    },
  });
  const received = [];
  const waitFor = async (pred, what) => {
    for (let i = 0; i < 200; i++) {
      if (pred()) return;
      await delay(50);
    }
    throw new Error(`timed out waiting for ${what}: ${JSON.stringify(received)}`);
  };
  // Event ids are CLIENT.SEQ.TOKEN (docs/mcp.md): the seq is the middle part.
  es.onmessage = (e) => received.push({ id: Number(e.lastEventId.split('.')[1]), raw: e.lastEventId, data: JSON.parse(e.data) });
  try {
    await waitFor(() => received.length >= 1, 'the open event');
    assert.equal(received[0].data.value, 0);
    assert.equal((await post(1, { op: 'add', by: 2 })).status, 202);
    await waitFor(() => received.some((r) => r.data.value === 2), 'value 2');
    const lastBefore = received.at(-1).raw;

    cutters[0]();  // the network drops the stream
    // While disconnected, more adds arrive through a third node.
    assert.equal((await post(2, { op: 'add', by: 3 })).status, 202);
    await waitFor(() => attempt >= 2 && received.some((r) => r.data.value === 5), 'the reconnect and value 5');
    assert.equal(seenLastEventId[1], lastBefore, 'the reconnect carries Last-Event-ID');
    const ids = received.map((r) => r.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'ids only grow');
    assert.equal(received.at(-1).data.value, 5, 'the state caught up after the reconnect');
  } finally {
    es.close();
    await cluster.stop();
  }
});

test('bad input: status codes and JSON-RPC errors; the node keeps serving', { timeout: 120_000 }, async () => {
  const cluster = await startCluster({ nodes: 1 });
  const url = cluster.url;
  const raw = (init) => fetch(`${url}/mcp`, init);
  const code = async (res) => (await res.json()).error.code;
  try {
    const session = await mcpInitialize(url);
    // Missing and unknown session ids.
    let r = await mcpPost(url, { jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.equal(r.status, 400);
    r = await mcpPost(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { session: 'nope' });
    assert.equal(r.status, 404);
    r = await mcpPost(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { session: '0'.repeat(32) });
    assert.equal(r.status, 404);
    assert.equal(await code(r), -32001);
    // Bad JSON, not JSON-RPC, wrong content type, Accept, protocol version.
    r = await mcpPost(url, '{"jsonrpc":', { session });
    assert.equal(r.status, 400);
    assert.equal(await code(r), -32700);
    r = await mcpPost(url, { hello: 'world' }, { session });
    assert.equal(r.status, 400);
    assert.equal(await code(r), -32600);
    r = await raw({ method: 'POST', headers: { ...mcpHeaders(), 'content-type': 'text/plain', 'mcp-session-id': session }, body: '{}' });
    assert.equal(r.status, 415);
    r = await raw({ method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-session-id': session },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
    assert.equal(r.status, 406);
    r = await mcpPost(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { session, version: '1999-01-01' });
    assert.equal(r.status, 400);
    // Origin and Host (DNS rebinding).
    r = await mcpPost(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { session, headers: { origin: 'http://evil.example.com' } });
    assert.equal(r.status, 403);
    r = await mcpPost(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { session, headers: { origin: 'http://localhost:1234' } });
    assert.equal(r.status, 200);
    // Huge body: 413 (the node's --max-http-body, 1 MiB).
    r = await mcpPost(url, { jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(2 << 20) } }, { session });
    assert.equal(r.status, 413);
    // Unknown method and unknown tool: JSON-RPC errors in a 200.
    r = await mcpPost(url, { jsonrpc: '2.0', id: 2, method: 'no/such/method' }, { session });
    assert.equal(r.status, 200);
    assert.equal(await code(r), -32601);
    r = await mcpPost(url, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'nope' } }, { session });
    assert.equal(await code(r), -32602);
    // Batches are refused under 2025-06-18 and later; a second initialize is refused.
    r = await mcpPost(url, [{ jsonrpc: '2.0', id: 4, method: 'ping' }, { jsonrpc: '2.0', id: 5, method: 'ping' }], { session });
    assert.equal(r.status, 400);
    r = await mcpPost(url, { jsonrpc: '2.0', id: 6, method: 'initialize', params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'x', version: '1' } } }, { session });
    assert.equal(r.status, 400);
    // GET without session / without Accept; other methods.
    r = await raw({ headers: { accept: 'text/event-stream' } });
    assert.equal(r.status, 400);
    r = await raw({ headers: { accept: 'application/json', 'mcp-session-id': session } });
    assert.equal(r.status, 406);
    r = await raw({ method: 'PUT', headers: mcpHeaders(), body: '{}' });
    assert.equal(r.status, 405);
    // A 2025-03-26 session accepts a batch and answers it as an array.
    const old = await mcpInitialize(url, { version: '2025-03-26' });
    r = await mcpPost(url, [{ jsonrpc: '2.0', id: 'a', method: 'ping' }, { jsonrpc: '2.0', id: 'b', method: 'tools/list' }], { session: old, version: '2025-03-26' });
    assert.equal(r.status, 200);
    const batch = await r.json();
    assert.deepEqual(batch.map((m) => m.id).sort(), ['a', 'b']);
    // /sse bad input.
    const sse = (init, path = '/sse/counter/bad') => fetch(`${url}${path}`, init);
    assert.equal((await sse({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })).status, 415);
    assert.equal((await sse({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' })).status, 400);
    assert.equal((await sse({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, '/sse/nope/x')).status, 404);
    assert.equal((await sse({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, `/sse/mcp/${session}`)).status, 404);
    assert.equal((await sse({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(2 << 20) }) })).status, 413);
    // Still serving.
    r = await mcpPost(url, { jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'test_simple_text', arguments: {} } }, { session });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).result.content[0].text, 'This is a simple text response for testing.');
  } finally {
    await cluster.stop();
  }
});

test('1,000 random Mcp-Session-Ids: 404 each, no session activated, nothing stored', { timeout: 120_000 }, async () => {
  const cluster = await startCluster({ nodes: 3 });
  const metric = async (url, name) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return Number(line?.split(' ')[1] ?? NaN);
  };
  const activations = async () => {
    let sum = 0;
    for (const { url: u } of cluster.nodes) sum += await metric(u, 'skein_activations_total');
    return sum;
  };
  try {
    const session = await mcpInitialize(cluster.nodes[0].url);
    const before = await activations();
    const { randomBytes } = await import('node:crypto');
    const statuses = new Map();
    for (let i = 0; i < 1000; i += 50) {
      const rs = await Promise.all(Array.from({ length: 50 }, (_, k) => {
        const url = cluster.nodes[(i + k) % cluster.nodes.length].url;
        return mcpPost(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { session: randomBytes(16).toString('hex') })
          .then(async (r) => { await r.arrayBuffer(); return r.status; });
      }));
      for (const s of rs) statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    assert.deepEqual([...statuses], [[404, 1000]], `every unknown id answered 404: ${JSON.stringify([...statuses])}`);
    assert.equal(await activations(), before, 'no activation for an unknown MCP session id');
    let sessions = 0;
    for (const { url: u } of cluster.nodes) sessions += await metric(u, 'skein_sessions');
    assert.ok(sessions <= 1, `only the initialized MCP session may be live, found ${sessions}`);
    // The real session still answers, on every node.
    for (const { url: u } of cluster.nodes) {
      const r = await mcpPost(u, { jsonrpc: '2.0', id: 2, method: 'ping' }, { session });
      assert.equal(r.status, 200);
    }
  } finally {
    await cluster.stop();
  }
});

test('call.sleep survives kill -9 of the session owner (a session timer)', { timeout: 120_000 }, async () => {
  // replicated: the call's 200 (its SSE stream) comes once the timer is on every replica.
  const cluster = await startCluster({ nodes: 3,
    extraArgs: ['--restart-backoff', '120000', '--kind-option', 'mcp.durability=replicated'] });
  try {
    await waitForMembership(cluster);
    const [n1] = cluster.nodes;
    const session = await mcpInitialize(n1.url);
    const where = await (await fetch(`${n1.url}/cluster/placement?key=${encodeURIComponent(`mcp/${session}`)}`)).json();
    const owner = cluster.nodes.find((n) => n.name === where.owner);
    const other = cluster.nodes.find((n) => n.name !== where.owner);
    // The call goes to the owner, so its stream and the owner die together:
    // only a timer kept with the session can still wake the call. The GET
    // must take over the stream before the timer is due: a new activation
    // does not know that the POST's carrier died with the old one (presence
    // after node loss, issue 16 item 4), so an answer due earlier would go
    // to that dead carrier.
    const call = await mcpPost(owner.url, { jsonrpc: '2.0', id: 5, method: 'tools/call',
      params: { name: 'sleep', arguments: { ms: 6000 } } }, { session });
    assert.equal(call.status, 200);
    const priming = (await sseEvents(call.body).next()).value;
    assert.match(priming?.id ?? '', /^[0-9a-f]{32}:\d+$/, 'the priming event names the stream');
    const pid = nodePid(cluster.dataDir, where.owner);
    assert.ok(pid, `pid of the owner ${where.owner}`);
    process.kill(pid, 'SIGKILL');
    await waitProcessGone(pid, 10_000);
    const resume = await fetch(`${other.url}/mcp`, { headers: { accept: 'text/event-stream', 'mcp-session-id': session,
      'mcp-protocol-version': LATEST, 'last-event-id': priming.id } });
    assert.equal(resume.status, 200);
    let result = null;
    for await (const e of sseEvents(resume.body)) {
      if (!e.data) continue;
      const m = JSON.parse(e.data);
      if (m.id === 5) { result = m; break; }
    }
    assert.equal(result?.result?.content?.[0]?.text, 'Slept 6000 ms');
  } finally {
    await cluster.stop();
  }
});
