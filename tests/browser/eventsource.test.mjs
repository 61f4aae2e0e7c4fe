// A browser's standard EventSource resumes through another node with
// Last-Event-ID only (issue 12 item 3): Chromium opens /sse/counter/ID through
// a small TCP proxy that sends each new SSE connection to the next node; the
// proxy holds back the stream while an event addressed to this client only
// (the rejection of its bad input) is produced, then cuts the connection.
// EventSource reconnects by itself (the stream said `retry: 1000`) with the
// Last-Event-ID header, lands on another node, and must get that event.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/browser/eventsource.test.mjs
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Resources, waitFor, waitForMembership } from '../cluster/cluster.mjs';

const CHROMIUM = '/usr/bin/chromium';

/** TCP proxy: SSE GETs go to `sseTargets` in turn, everything else to `other`. */
function startProxy(other, sseTargets) {
  const conns = [];
  let sseCount = 0;
  const server = net.createServer((client) => {
    client.once('data', (first) => {
      const head = first.toString('latin1');
      const isSse = /^GET \/sse\//.test(head);
      const target = new URL(isSse ? sseTargets[sseCount++ % sseTargets.length] : other);
      const c = { head, isSse, target: target.origin, held: false, heldBytes: '', client };
      // Other requests are made one per connection (Connection: close), so
      // that the page's EventSource cannot ride on a kept-alive one.
      const out = isSse ? first : Buffer.from(head.replace(/\r\nconnection:[^\r]*/i, '').replace('\r\n', '\r\nConnection: close\r\n'), 'latin1');
      const upstream = net.connect(Number(target.port), target.hostname, () => upstream.write(out));
      c.upstream = upstream;
      upstream.on('data', (d) => {
        if (c.held) c.heldBytes += d.toString('utf8');
        else client.write(d);
      });
      client.on('data', (d) => upstream.write(d));
      const end = () => { client.destroy(); upstream.destroy(); };
      client.on('error', end);
      upstream.on('error', end);
      client.on('close', end);
      upstream.on('close', end);
      conns.push(c);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`, conns, close: () => server.close(),
  })));
}

describe('EventSource in Chromium: resume through another node with Last-Event-ID only', { timeout: 120_000 }, () => {
  const res = new Resources();
  let chromium;
  let context;
  let profileDir;
  let proxy;
  let cluster;

  before(async () => {
    ({ chromium } = await import('playwright-core'));
    cluster = await res.launch({ nodes: 3, dataDir: res.tempDir('skein-es-') });
    await waitForMembership(cluster);
    profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
  }, { timeout: 90_000 });

  after(async () => {
    proxy?.close();
    try { await res.cleanup(); } finally {
      if (context) await context.close().catch(() => {});
      if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
    }
  });

  it('gets the event addressed to it that it missed, from another node', async () => {
    const [n1, n2] = cluster.nodes;
    proxy = await startProxy(n1.url, [n1.url, n2.url]);
    const page = await context.newPage();
    await page.goto(`${proxy.url}/healthz`);  // any page of the origin, without scripts of its own
    await page.evaluate(() => {
      window.got = [];
      const es = new EventSource('/sse/counter/browser-es');
      es.addEventListener('client', (e) => window.got.push({ type: 'client', data: e.data }));
      es.onmessage = (e) => window.got.push({ type: 'message', id: e.lastEventId, data: e.data });
      window.es = es;
    });
    const got = () => page.evaluate(() => window.got);
    await waitFor(async () => (await got()).some((e) => e.type === 'message'), { timeoutMs: 10_000, what: 'the first SSE event in the page' });
    const { client, resume_token: token } = JSON.parse((await got()).find((e) => e.type === 'client').data);
    const first = proxy.conns.find((c) => c.isSse);
    assert.equal(first.target, new URL(n1.url).origin);

    // Hold the stream, make an event for this client only, cut the stream.
    first.held = true;
    const post = await fetch(`${n1.url}/sse/counter/browser-es?client=${client}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"op":"add","by":"x"}',
    });
    assert.equal(post.status, 202);
    await waitFor(() => first.heldBytes.includes('"type":"error"'), { timeoutMs: 10_000, what: 'the error event to reach the proxy' });
    first.client.destroy();

    await waitFor(async () => (await got()).some((e) => e.type === 'message' && /"type":"error"/.test(e.data)), {
      timeoutMs: 20_000, what: 'the error event after EventSource reconnected', describe: () => JSON.stringify(proxy.conns.map((c) => c.head.split('\r\n')[0])),
    });
    const second = proxy.conns.filter((c) => c.isSse)[1];
    assert.ok(second, 'EventSource opened a second stream');
    assert.equal(second.target, new URL(n2.url).origin, 'the second stream went to another node');
    const lastEventId = /\r\nlast-event-id: ([^\r]+)/i.exec(second.head)?.[1];
    assert.match(lastEventId ?? '', new RegExp(`^${client}\\.\\d+\\.${token}$`), 'the browser resumed with Last-Event-ID CLIENT.SEQ.TOKEN');
    assert.doesNotMatch(second.head, /[?&]client=/, 'nothing but Last-Event-ID carried the client');
    const err = (await got()).find((e) => e.type === 'message' && /"type":"error"/.test(e.data));
    assert.match(err.id, new RegExp(`^${client}\\.\\d+\\.${token}$`));
    await page.evaluate(() => window.es.close());
  });
});
