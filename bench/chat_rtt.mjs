#!/usr/bin/env node
// Chat ping-pong latency across a 3-node cluster.
//
//   node bench/chat_rtt.mjs [--messages 5000] [--warmup 100] [--bin build/bin/skein-demo]
//
// Launches `skein-demo launch --nodes 3` on a temp data dir, picks a chat
// room owned by n3, connects alice on n1 and bob on n2, and ping-pongs:
// alice says, waits until bob sees it; bob says, waits until alice sees it...
// Each hop crosses two node boundaries (n1 -> n3 -> n2 or back).
// Both clients are @skein/client (clients/js; build it first: `cd clients/js
// && npm ci && npm run build`) connected straight to their node.
// "rtt" of one message = from send() until the `said` event reaches the
// peer (same process clock); "ack" = from send() until its ack (durable).
// Prints one JSON line, then a human-readable line; then stops the cluster.

import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import {
  launchCluster, waitForMembership, findIdOwnedBy, makeTempDir, removeDir,
} from '../tests/cluster/cluster.mjs';
import { SkeinClient } from '../clients/js/dist/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values: opts } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    warmup: { type: 'string', default: '100' },
    bin: { type: 'string' },
    timeout: { type: 'string', default: '10000' }, // per message, ms
  },
});
const messages = Number(opts.messages);
const warmup = Number(opts.warmup);
const perMessageTimeout = Number(opts.timeout);
if (!Number.isSafeInteger(messages) || messages < 1) throw new Error(`--messages must be a positive integer, got ${opts.messages}`);
if (!Number.isSafeInteger(warmup) || warmup < 0) throw new Error(`--warmup must be a non-negative integer, got ${opts.warmup}`);
const bin = opts.bin ?? process.env.SKEIN_DEMO ?? path.join(repoRoot, 'build/bin/skein-demo');
if (!fs.existsSync(bin)) throw new Error(`skein-demo not found at ${bin} (use --bin or SKEIN_DEMO)`);

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}
const r3 = (x) => Math.round(x * 1000) / 1000;

const dataDir = makeTempDir('skein-bench-rtt-');
let cluster = null;
const clients = [];
let failed = false;
try {
  cluster = await launchCluster({ nodes: 3, dataDir, bin });
  await waitForMembership(cluster);
  const room = await findIdOwnedBy(cluster, { kind: 'chat', prefix: 'rtt-', owner: 'n3' });
  // A client and the `said` texts it has seen, with a waiter per text.
  const join = async (node, user) => {
    const c = new SkeinClient({ url: cluster.node(node).url, kind: 'chat', id: room.id, params: { user }, route: 'direct', discover: false });
    clients.push(c);
    const waiters = new Map();  // text -> resolve(at)
    c.on('message', ({ data }) => {
      if (data?.type !== 'said') return;
      const w = waiters.get(data.text);
      if (w) { waiters.delete(data.text); w(performance.now()); }
    });
    await c.connect();
    return {
      c,
      seen: (text) => new Promise((resolve, reject) => {
        const timer = setTimeout(() => { waiters.delete(text); reject(new Error(`${user}: no said ${text} within ${perMessageTimeout} ms`)); }, perMessageTimeout);
        waiters.set(text, (at) => { clearTimeout(timer); resolve(at); });
      }),
    };
  };
  const alice = await join('n1', 'alice');
  const bob = await join('n2', 'bob');

  const pair = [alice, bob];
  const acks = [];
  const one = async (i, tag) => {
    const from = pair[i % 2];
    const to = pair[(i + 1) % 2];
    const text = `${tag}${i}`;
    const seen = to.seen(text);
    const t0 = performance.now();
    const acked = from.c.send({ type: 'say', text }).then(() => performance.now());
    const at = await seen;
    acks.push((await acked) - t0);
    return at - t0;
  };

  for (let i = 0; i < warmup; i++) await one(i, 'warmup-');
  const rtts = new Float64Array(messages);
  const start = performance.now();
  for (let i = 0; i < messages; i++) rtts[i] = await one(i, 'm');
  const elapsed = performance.now() - start;

  const sorted = Array.from(rtts).sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  const ackSorted = acks.slice(warmup).sort((a, b) => a - b);
  const result = {
    bench: 'chat_rtt',
    nodes: 3,
    room: room.key,
    owner: 'n3',
    clients: { alice: 'n1', bob: 'n2' },
    messages,
    warmup,
    seconds: r3(elapsed / 1000),
    msgs_per_s: Math.round((messages / elapsed) * 1000 * 10) / 10,
    rtt_ms: {
      mean: r3(mean),
      p50: r3(percentile(sorted, 50)),
      p99: r3(percentile(sorted, 99)),
      max: r3(sorted.at(-1)),
      min: r3(sorted[0]),
    },
    ack_ms: { p50: r3(percentile(ackSorted, 50)), p99: r3(percentile(ackSorted, 99)) },
  };
  console.log(JSON.stringify(result));
  console.log(`chat ping-pong n1 <-> n3 <-> n2: ${messages} messages in ${result.seconds} s = ${result.msgs_per_s} msg/s; `
    + `rtt p50 ${result.rtt_ms.p50} ms, p99 ${result.rtt_ms.p99} ms, max ${result.rtt_ms.max} ms`);
} catch (e) {
  failed = true;
  console.error(`chat_rtt failed: ${e.stack ?? e.message}`);
  if (cluster) console.error(`--- launcher stderr (tail) ---\n${cluster.stderrTail()}`);
} finally {
  for (const c of clients) c.close();
  if (cluster) {
    try {
      await cluster.stop();
    } catch (e) {
      failed = true;
      console.error(`stopping the cluster failed: ${e.message}`);
    }
  }
  removeDir(dataDir);
}
process.exitCode = failed ? 1 : 0;
