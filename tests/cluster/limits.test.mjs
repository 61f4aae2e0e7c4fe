// Cluster test: per-node and per-client limits (issue 14, item 6), on one
// `node` of skein-demo:
//  - a client stream sending more than --max-message-rate messages/s beyond
//    --message-burst gets an error frame (code rate_limited) and close 1008;
//    a client within the burst keeps its stream and every message applies;
//  - with --max-connections N client streams open, the next /ws upgrade and
//    the next /sse stream answer 503 (Retry-After: 1), /healthz still
//    answers, and once a stream closes a new one is accepted;
//  - both show in /metrics (skein_rate_limited_total,
//    skein_connections_refused_total).
//  - with --max-connections-per-address 3, the 4th stream from 127.0.0.1 is
//    refused (503, Retry-After: 1; skein_connections_refused_per_address_total)
//    while 127.0.0.2 still gets one, and a close frees a slot;
//  - a node with 512 file descriptors (prlimit) and 700 idle TCP connections
//    held against it: it does not spin (< 50 % of a core over 3 s), answers
//    /healthz on a keep-alive connection opened before, and takes a new
//    WebSocket once the idle ones close;
//  - 20 clients that never read while big chat messages are broadcast: each
//    is closed with 1008 (slow consumer) and the node's RSS stays bounded.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/limits.test.mjs

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { Resources, WsClient, httpGet, waitFor, wsUrl, skeinDemoPath } from './cluster.mjs';
import { startNode } from './node.mjs';

const isValue = (d) => d !== null && typeof d === 'object' && Object.hasOwn(d, 'value') && !Object.hasOwn(d, 'type');
const isError = (d) => d !== null && typeof d === 'object' && d.type === 'error';
const ADD1 = JSON.stringify({ op: 'add', by: 1 });

/** The value of an unlabelled counter in a Prometheus text exposition. */
function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** Resident set size of a process in bytes (/proc/PID/status VmRSS). */
function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

/** GET path on a kept-alive connection of `agent`: {status, socket}. */
function getOn(agent, url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (r) => {
      r.resume();
      r.on('end', () => resolve({ status: r.statusCode, socket: req.socket }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** Retries a WebSocket to counter/ID while the node answers 503 (bounded), then checks it works. */
async function acceptedAgain(url, id) {
  let again;
  await waitFor(async () => {
    try {
      again = await WsClient.connect(wsUrl(url, `/ws/counter/${id}`), { label: id });
      return true;
    } catch (e) {
      if (e.statusCode !== 503) throw e;
      return false;
    }
  }, { timeoutMs: 10_000, what: 'a stream accepted after one closed' });
  await again.nextData(isValue, 10_000, 'initial value');
  again.ws.terminate();
}

describe('limits', { timeout: 240_000 }, () => {
  const res = new Resources();
  const nodes = new Set();

  async function start(extraArgs) {
    const n = await startNode({ bin: skeinDemoPath(), dataDir: res.tempDir('skein-limits-'), extraArgs });
    nodes.add(n);
    return n;
  }

  after(async () => {
    await res.closeClients();
    for (const n of nodes) await n.kill('SIGKILL').catch(() => {});
    await res.cleanup();
  });

  it('closes a client over its message rate and keeps one within its burst', async () => {
    const n = await start(['--max-message-rate', '100', '--message-burst', '100']);
    const calm = await res.connect(wsUrl(n.url, '/ws/counter/calm'), { label: 'calm' });
    await calm.nextData(isValue, 10_000, 'initial value');
    for (let i = 0; i < 80; i++) await calm.send(ADD1);
    await calm.nextData((d) => isValue(d) && d.value === 80, 10_000, 'value 80');

    const flood = await res.connect(wsUrl(n.url, '/ws/counter/flood'), { label: 'flood' });
    await flood.nextData(isValue, 10_000, 'initial value');
    // 1,000 messages written at once: far beyond 100 at once plus 100/s.
    const writes = [];
    for (let i = 0; i < 1000; i++) writes.push(flood.send(ADD1).catch(() => {}));
    await Promise.all(writes);
    const err = await flood.nextData((d) => isError(d) && d.code === 'rate_limited', 10_000, 'rate_limited error');
    assert.match(err.data.message, /100 messages per second/);
    const closed = await flood.waitClosed(10_000);
    assert.equal(closed.code, 1008, `close code ${closed.code} ${closed.reason}`);
    // The calm client was not affected and the node still serves.
    await calm.send(ADD1);
    await calm.nextData((d) => isValue(d) && d.value === 81, 10_000, 'value 81');
    const text = (await httpGet(`${n.url}/metrics`)).body;
    assert.ok(metric(text, 'skein_rate_limited_total') >= 1, 'skein_rate_limited_total counts the close');
  });

  it('refuses client streams beyond --max-connections with 503 and accepts again after a close', async () => {
    const n = await start(['--max-connections', '5']);
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await res.connect(wsUrl(n.url, `/ws/counter/held-${i}`), { label: `held-${i}` }));
    await assert.rejects(WsClient.connect(wsUrl(n.url, '/ws/counter/one-more'), { label: 'one-more' }),
      (e) => e.statusCode === 503, 'the sixth WebSocket is refused with 503');
    const sse = await fetch(`${n.url}/sse/counter/one-more`);
    assert.equal(sse.status, 503, 'an SSE stream is refused with 503 too');
    assert.equal(sse.headers.get('retry-after'), '1');
    await sse.text();
    assert.equal((await httpGet(`${n.url}/healthz`)).status, 200, '/healthz still answers');
    const text = (await httpGet(`${n.url}/metrics`)).body;
    assert.ok(metric(text, 'skein_connections_refused_total') >= 2, 'skein_connections_refused_total counts both');
    // One closes: a new stream is accepted once the node has seen the close.
    await held.pop().close();
    await acceptedAgain(n.url, 'again');
  });

  it('refuses client streams beyond --max-connections-per-address and accepts again after a close', async () => {
    const n = await start(['--max-connections-per-address', '3']);
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await res.connect(wsUrl(n.url, `/ws/counter/addr-${i}`), { label: `addr-${i}` }));
    const refused = await WsClient.connect(wsUrl(n.url, '/ws/counter/addr-4th'), { label: 'addr-4th' })
      .then(() => null, (e) => e);
    assert.equal(refused?.statusCode, 503, `the 4th WebSocket from 127.0.0.1 is refused with 503: ${refused?.message}`);
    assert.match(refused.body, /per address/);
    const sse = await fetch(`${n.url}/sse/counter/addr-4th`);
    assert.equal(sse.status, 503, 'an SSE stream from the same address is refused too');
    assert.equal(sse.headers.get('retry-after'), '1');
    await sse.text();
    // Another source address is not affected.
    const other = await res.connect(wsUrl(n.url, '/ws/counter/addr-other'), { label: 'other', localAddress: '127.0.0.2' });
    await other.nextData(isValue, 10_000, 'initial value from 127.0.0.2');
    const text = (await httpGet(`${n.url}/metrics`)).body;
    assert.ok(metric(text, 'skein_connections_refused_per_address_total') >= 2,
      'skein_connections_refused_per_address_total counts both refusals');
    assert.equal(metric(text, 'skein_connections_refused_total'), 0, 'not counted as the node-wide limit');
    // One closes: its slot is free again once the node has seen the close.
    await held.pop().close();
    await acceptedAgain(n.url, 'addr-again');
  });

  it('survives more idle connections than file descriptors without spinning', async () => {
    const n = await startNode({ bin: skeinDemoPath(), dataDir: res.tempDir('skein-limits-fd-'),
      wrapper: ['prlimit', '--nofile=512:512', '--'] });
    nodes.add(n);
    const limits = fs.readFileSync(`/proc/${n.pid}/limits`, 'utf8');
    assert.match(limits, /Max open files\s+512\s+512/, 'the node runs with 512 file descriptors');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await getOn(agent, `${n.url}/healthz`);
    assert.equal(first.status, 200);
    const idle = [];
    try {
      // 700 idle connections: the kernel completes them (listen backlog),
      // the node accepts until it runs out of descriptors.
      await Promise.all(Array.from({ length: 700 }, () => new Promise((resolve, reject) => {
        const s = net.connect(n.port, '127.0.0.1');
        idle.push(s);
        s.once('connect', resolve);
        s.once('error', reject);
      })));
      // Let the node hit its limit, then measure its CPU over 3 s.
      await waitFor(() => fs.readdirSync(`/proc/${n.pid}/fd`).length >= 500,
        { timeoutMs: 10_000, what: 'the node to use up its file descriptors' });
      const t0 = cpuTicks(n.pid);
      const w0 = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 3_000));  // the measurement window itself
      const cpu = (cpuTicks(n.pid) - t0) / 100 / ((Date.now() - w0) / 1000);
      assert.ok(cpu < 0.5, `the node used ${(cpu * 100).toFixed(0)} % of a core while out of descriptors`);
      if (process.env.SKEIN_TEST_VERBOSE) console.error(`out of descriptors: ${(cpu * 100).toFixed(1)} % of a core`);
      const again = await getOn(agent, `${n.url}/healthz`);
      assert.equal(again.status, 200, '/healthz on the keep-alive connection');
      assert.equal(again.socket, first.socket, 'the same connection as before the flood');
    } finally {
      for (const s of idle) s.destroy();
      agent.destroy();
    }
    // Once the idle connections are gone a new WebSocket works.
    let ws;
    await waitFor(async () => {
      try {
        ws = await WsClient.connect(wsUrl(n.url, '/ws/counter/after-flood'), { label: 'after-flood', timeoutMs: 2_000 });
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs: 20_000, what: 'a WebSocket after the idle connections closed' });
    await ws.nextData(isValue, 10_000, 'initial value');
    ws.ws.terminate();
  });

  it('closes 20 slow consumers with 1008 and keeps the node\'s memory bounded', async () => {
    const n = await start(['--max-message-rate', '0']);
    const baseline = rssBytes(n.pid);
    const room = '/ws/chat/slow-room';
    // 20 clients that join, then never read again.
    const slow = await Promise.all(Array.from({ length: 20 }, (_, i) => new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl(n.url, `${room}?user=slow${i}`), { perMessageDeflate: false, maxPayload: 1 << 30 });
      const c = { ws, closed: new Promise((r) => ws.once('close', (code) => r(code))) };
      ws.once('message', () => { ws.pause(); resolve(c); });  // the welcome frame, then nothing
      ws.once('error', reject);
    })));
    const writer = await res.connect(wsUrl(n.url, `${room}?user=writer`), { label: 'writer' });
    const text = 'x'.repeat(4000);
    let peak = baseline;
    let sent = 0;
    let closed = 0;
    // Broadcast until every slow consumer was cut off (bounded).
    while (sent < 20_000) {
      const batch = [];
      for (let i = 0; i < 199; i++) batch.push(writer.send({ type: 'say', text }));
      const mark = `end-${sent}-`;
      batch.push(writer.send({ type: 'say', text: mark + text.slice(mark.length) }));
      await Promise.all(batch);
      sent += 200;
      // The batch's last message back at the writer: the node is not flooded beyond a batch.
      await writer.nextData((d) => d?.type === 'said' && d.text.startsWith(mark), 30_000, `message ${mark}`);
      writer.frames.length = 0;
      writer.cursor = 0;
      peak = Math.max(peak, rssBytes(n.pid));
      closed = metric((await httpGet(`${n.url}/metrics`)).body, 'skein_slow_consumers_total');
      if (closed >= 20) break;
    }
    assert.equal(closed, 20, `skein_slow_consumers_total after ${sent} messages`);
    peak = Math.max(peak, rssBytes(n.pid));
    const grewMb = (peak - baseline) / (1 << 20);
    assert.ok(grewMb < 300, `the node's RSS grew by ${grewMb.toFixed(0)} MB (baseline ${(baseline / (1 << 20)).toFixed(0)} MB)`);
    // They read again: what was written, then the 1008 close.
    for (const c of slow) c.ws.resume();
    let timer;
    const codes = await Promise.race([
      Promise.all(slow.map((c) => c.closed)),
      new Promise((resolve) => { timer = setTimeout(() => resolve(slow.map((c) => c.ws.readyState)), 30_000); }),
    ]);
    clearTimeout(timer);
    assert.deepEqual(codes, Array(20).fill(1008), `close codes (or ready states after 30 s): ${codes.join(',')}`);
    if (process.env.SKEIN_TEST_VERBOSE) console.error(`slow consumers: ${sent} messages, RSS +${grewMb.toFixed(0)} MB`);
    assert.equal((await httpGet(`${n.url}/healthz`)).status, 200);
    await writer.close();
  });
});
