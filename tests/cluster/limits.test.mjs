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
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/limits.test.mjs

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
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

describe('limits', { timeout: 120_000 }, () => {
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
    let again;
    await waitFor(async () => {
      try {
        again = await WsClient.connect(wsUrl(n.url, '/ws/counter/again'), { label: 'again' });
        return true;
      } catch (e) {
        if (e.statusCode !== 503) throw e;
        return false;
      }
    }, { timeoutMs: 10_000, what: 'a stream accepted after one closed' });
    await again.nextData(isValue, 10_000, 'initial value');
    again.ws.terminate();
  });
});
