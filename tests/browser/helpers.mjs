// Helpers of the browser tests (tests/browser/dashboard.test.mjs): a POST
// without a body, a strict parser of the Prometheus text exposition format,
// /metrics scrapes, the pid of a launched node, an SSE stream reader, and
// the dashboard's sessions-table checks (busiest first, search box).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { httpGet } from '../cluster/cluster.mjs';

/** POST url (empty body) -> {status, headers, body}. */
export function httpPost(url, { timeoutMs = 40_000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { connection: 'close', 'content-length': 0, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode, headers: res.headers, body }); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`POST ${url} timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(new Error(`POST ${url}: ${e.message}`)); });
    req.end();
  });
}

/**
 * Strict parse of the Prometheus text format 0.0.4: every sample belongs to
 * a family announced by # TYPE (histograms: _bucket/_sum/_count), values are
 * numbers, no series twice, histogram buckets cumulative with +Inf == count.
 * Returns {families: Map(name -> type), value(name, labels?)}.
 */
export function parseExposition(text, where) {
  assert.ok(text.endsWith('\n'), `${where}: exposition must end with a newline`);
  const families = new Map();
  const series = new Map();
  const bucketsOf = new Map();   // histogram -> [{le, v}]
  const familyOf = (name) => {
    if (families.has(name)) return name;
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : null;
      if (base && families.get(base) === 'histogram') return base;
    }
    return null;
  };
  for (const line of text.split('\n').slice(0, -1)) {
    let m;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line))) continue;
    if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      assert.ok(!families.has(m[1]), `${where}: # TYPE ${m[1]} twice`);
      families.set(m[1], m[2]);
      continue;
    }
    assert.ok(!line.startsWith('#'), `${where}: unexpected comment line ${JSON.stringify(line)}`);
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*)\})? (\S+)$/.exec(line);
    assert.ok(m, `${where}: malformed sample line ${JSON.stringify(line)}`);
    const [, name, , labels = '', raw] = m;
    const fam = familyOf(name);
    assert.ok(fam, `${where}: sample ${name} has no # TYPE before it`);
    const v = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    assert.ok(!Number.isNaN(v), `${where}: ${name} value ${JSON.stringify(raw)} is not a number`);
    const key = `${name}{${labels}}`;
    assert.ok(!series.has(key), `${where}: series ${key} twice`);
    series.set(key, v);
    if (families.get(fam) === 'counter') {
      assert.ok(name.endsWith('_total'), `${where}: counter ${name} should end in _total`);
      assert.ok(v >= 0, `${where}: counter ${name} is negative`);
    }
    if (name === `${fam}_bucket`) {
      const le = /le="([^"]+)"/.exec(labels);
      assert.ok(le, `${where}: ${name} without le label`);
      if (!bucketsOf.has(fam)) bucketsOf.set(fam, []);
      bucketsOf.get(fam).push({ le: le[1] === '+Inf' ? Infinity : Number(le[1]), v });
    }
  }
  for (const [fam, buckets] of bucketsOf) {
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(buckets[i].le > buckets[i - 1].le, `${where}: ${fam} buckets not in increasing le order`);
      assert.ok(buckets[i].v >= buckets[i - 1].v, `${where}: ${fam} buckets not cumulative`);
    }
    assert.equal(buckets.at(-1).le, Infinity, `${where}: ${fam} needs a le="+Inf" bucket`);
    assert.equal(buckets.at(-1).v, series.get(`${fam}_count{}`), `${where}: ${fam} +Inf bucket != _count`);
    assert.ok(series.has(`${fam}_sum{}`), `${where}: ${fam}_sum missing`);
  }
  return {
    families,
    value(name, labels = '') {
      const v = series.get(`${name}{${labels}}`);
      assert.ok(v !== undefined, `${where}: no series ${name}{${labels}}`);
      return v;
    },
  };
}

export async function scrape(node) {
  const r = await httpGet(`${node.url}/metrics`);
  assert.equal(r.status, 200, `GET ${node.url}/metrics status`);
  return { res: r, m: parseExposition(r.body, `${node.name}/metrics`) };
}

/** The pid of `skein-demo node --name NAME` in the launcher's process group. */
export function nodePid(cluster, name) {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp !== cluster.child.pid) continue;
      const args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const i = args.indexOf('--name');
      if (args.includes('node') && i >= 0 && args[i + 1] === name) return Number(entry);
    } catch { /* raced with exit */ }
  }
  throw new Error(`no process for node ${name} in the launcher's process group ${cluster.child.pid}`);
}

/** Reads an SSE stream: {headers, events: [parsed JSON], comments, close(), next(pred, ms)}. */
export function openEventStream(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const stream = { status: res.statusCode, headers: res.headers, events: [], raw: '', waiters: [] };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        stream.raw += chunk;
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data) stream.events.push(JSON.parse(data));
        }
        for (const w of [...stream.waiters]) w();
      });
      stream.close = () => req.destroy();
      stream.next = (pred, timeoutMs, what) => new Promise((res2, rej2) => {
        const check = () => {
          const e = stream.events.find(pred);
          if (!e) return false;
          clearTimeout(timer);
          stream.waiters = stream.waiters.filter((w) => w !== check);
          res2(e);
          return true;
        };
        const timer = setTimeout(() => {
          stream.waiters = stream.waiters.filter((w) => w !== check);
          rej2(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${JSON.stringify(stream.events).slice(0, 2000)}`));
        }, timeoutMs);
        if (!check()) stream.waiters.push(check);
      });
      resolve(stream);
    });
    req.on('error', reject);
  });
}

/**
 * On the dashboard `page`: while `c` (a client of the counter session `live`)
 * keeps sending, `live` becomes the first row of the sessions table with 1
 * client and inputs/s > 0, and n1 shows a current checkpoint p50 / p99; then
 * `screenshot()`; then the search box narrows the table to `live`, to nothing
 * for an unknown key, and back to every row when cleared.
 */
export async function checkSessionsTable(dashboard, live, c, screenshot) {
  // The busy session is first in the table, with its one client. Keep the
  // traffic flowing until the table (refreshed every second) shows it.
  const firstRow = () => dashboard.evaluate(() => {
    const row = document.querySelector('#sessions tbody tr');
    return row && { key: row.dataset.key, clients: row.querySelector('.clients').textContent, rate: Number(row.dataset.rate) };
  });
  const busyDeadline = Date.now() + 15_000;
  let first = await firstRow();
  while (Date.now() < busyDeadline && !(first?.key === live.key && first.clients === '1')) {
    await c.send({ op: 'add', by: 1 });
    await c.nextData((d) => d && Object.hasOwn(d, 'value'), 10_000, 'the counter value');
    await new Promise((done) => setTimeout(done, 50));
    first = await firstRow();
  }
  assert.equal(first?.key, live.key, `the busiest session is first (${JSON.stringify(first)})`);
  assert.equal(first.clients, '1', 'its client count is shown');
  assert.ok(first.rate > 0, 'its inputs/s is above 0');
  assert.match(await dashboard.locator('.node-card[data-node="n1"] [data-field="ckpt"]').textContent(), /^[\d.]+ \/ [\d.]+ ms$/,
    'n1 shows current checkpoint p50 / p99');
  await screenshot();

  // The search box filters the table by key; clearing it shows every row again.
  const rowKeys = () => dashboard.locator('#sessions tbody tr').evaluateAll((els) => els.map((e) => e.dataset.key));
  const total = (await rowKeys()).length;
  assert.ok(total >= 2, `at least the room and the counter in the table (${total})`);
  await dashboard.fill('#session-search', live.id);
  await dashboard.waitForFunction((key) => {
    const keys = [...document.querySelectorAll('#sessions tbody tr')].map((e) => e.dataset.key);
    return keys.length === 1 && keys[0] === key;
  }, live.key, { timeout: 10_000 }).catch(async (e) => { throw new Error(`only ${live.key} after searching ${live.id} (rows: ${await rowKeys()}): ${e.message}`); });
  assert.match(await dashboard.locator('#session-count').textContent(), /^\(1 of \d+\)$/);
  await dashboard.fill('#session-search', 'no-such-session-key');
  await dashboard.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 0, null, { timeout: 10_000 });
  await dashboard.fill('#session-search', '');
  await dashboard.waitForFunction((n) => document.querySelectorAll('#sessions tbody tr').length >= n, total, { timeout: 10_000 });
}
