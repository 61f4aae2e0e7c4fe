// Cluster measurements (one JSON line each on stdout):
//  1. migration of chat rooms holding ~64 KiB of state (50 messages x 1.3 KB)
//     when a node joins (launch --add-node, twice): per moved room, the time
//     from the new node's `ready` to the room listed in its /cluster
//     sessions, and the longest say -> said round trip of a client pinging
//     the room every 100 ms (the room's blackout during its move);
//  2. kill -9 of an owner: time until a fresh client on another node gets
//     the counter's value;
//  3. counter throughput, durability=replicated (default) vs local, 200
//     counters, closed loop (window 8 per counter), 5 s each.
//
//   SKEIN_DEMO=build/bin/skein-demo node bench/cluster_bench.mjs [migration|kill|throughput]...

import { performance } from 'node:perf_hooks';
import {
  Resources, httpGetJson, waitFor, waitForMembership, placement, wsUrl,
} from '../tests/cluster/cluster.mjs';
import {
  addNode, nodePid, CounterLoad, readCounterUntil, percentile, delay,
} from '../tests/cluster/procs.mjs';

const which = process.argv.slice(2);
const want = (n) => which.length === 0 || which.includes(n);
const stats = (xs) => ({
  n: xs.length, p50: Math.round(percentile(xs, 50)), p99: Math.round(percentile(xs, 99)), max: Math.round(Math.max(...xs)),
});

async function migration(res) {
  const dataDir = res.tempDir('skein-bench-mig-');
  const cluster = await res.launch({ nodes: 3, dataDir });
  await waitForMembership(cluster);
  const n1 = cluster.node('n1');
  const rooms = Array.from({ length: 80 }, (_, i) => `big-${i}`);
  const pad = (s) => (s + ' ').padEnd(1300, 'x');
  // Fill every room with 50 long messages.
  const clients = await Promise.all(rooms.map((r) => res.connect(wsUrl(n1.url, `/ws/chat/${r}?user=bench`), { label: r })));
  await Promise.all(clients.map(async (c, i) => {
    await c.next(() => true, 20_000, 'history');
    for (let k = 0; k < 50; k++) c.send({ type: 'say', text: pad(`${rooms[i]} fill ${k}`) });
    await c.nextData((d) => d.type === 'said' && d.text.startsWith(`${rooms[i]} fill 49 `), 60_000, 'last fill message');
  }));
  // Pingers: one say every 100 ms per room, each 1.3 KB (the state stays ~64 KiB).
  const rtt = new Map(rooms.map((r) => [r, []])); // [sentAt, rtt]
  let pinging = true;
  const pingers = clients.map(async (c, i) => {
    let k = 0;
    while (pinging) {
      const text = pad(`${rooms[i]} ping ${k++}`);
      const t0 = performance.now();
      await c.send({ type: 'say', text });
      await c.nextData((d) => d.type === 'said' && d.text === text, 30_000, 'ping');
      rtt.get(rooms[i]).push([t0, performance.now() - t0]);
      await delay(100);
    }
  });
  const appear = [];
  const blackout = [];
  for (let round = 0; round < 2; round++) {
    await delay(1_000);
    const added = await addNode(dataDir);
    const owners = new Map();
    await Promise.all(rooms.map(async (r) => owners.set(r, (await placement(n1, `chat/${r}`)).owner)));
    const moved = rooms.filter((r) => owners.get(r) === added.name);
    const seen = new Map();
    await waitFor(async () => {
      const s = new Set((await httpGetJson(`${added.url}/cluster`)).sessions);
      const now = performance.now();
      for (const r of moved) if (s.has(`chat/${r}`) && !seen.has(r)) seen.set(r, now - added.readyAt);
      return seen.size === moved.length;
    }, { timeoutMs: 30_000, intervalMs: 5, what: `the rooms moving to ${added.name}` });
    await delay(1_500);
    for (const r of moved) {
      appear.push(seen.get(r));
      const during = rtt.get(r).filter(([t0]) => t0 >= added.startedAt - 500);
      blackout.push(Math.max(...during.map(([, x]) => x)));
    }
    res.addedNodes.push(added);
    console.log(JSON.stringify({ metric: 'rooms_moved', node: added.name, rooms: moved.length }));
  }
  pinging = false;
  await Promise.allSettled(pingers);
  const baseline = [...rtt.values()].flat().map(([, x]) => x);
  console.log(JSON.stringify({ metric: 'migration_64KiB_room', state_bytes_approx: 50 * 1300, from_ready_to_listed_ms: stats(appear), max_ping_rtt_during_move_ms: stats(blackout), ping_rtt_all_ms: stats(baseline) }));
  for (const a of res.addedNodes.splice(0)) await a.stop().catch(() => {});
  await res.stop(cluster);
}

async function kill(res) {
  const samples = [];
  for (let round = 0; round < 3; round++) {
    const dataDir = res.tempDir('skein-bench-kill-');
    const cluster = await res.launch({ nodes: 3, dataDir });
    await waitForMembership(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const ids = Array.from({ length: 60 }, (_, i) => `kb${i}`);
    const victims = [];
    for (const id of ids) if ((await placement(n1, `counter/${id}`)).owner === 'n3') victims.push(id);
    const load = new CounterLoad({ ids, nodes: [n1, n2], rate: 600, window: 4 });
    await load.connectAll();
    load.start();
    await waitFor(() => load.acked >= 1_000, { timeoutMs: 15_000, intervalMs: 20 });
    const pid = nodePid(dataDir, 'n3');
    process.kill(pid, 'SIGKILL');
    const t0 = performance.now();
    const got = await Promise.allSettled(victims.map((id) => readCounterUntil([n1.url, n2.url], id, t0 + 10_000)));
    for (const g of got) if (g.status === 'fulfilled') samples.push(g.value.at - t0);
    const failed = got.filter((g) => g.status === 'rejected').length;
    if (failed) console.log(JSON.stringify({ warning: `${failed} counters not served within 10 s of kill -9` }));
    load.stopSending();
    load.closeAll();
    await res.stop(cluster).catch((e) => console.log(JSON.stringify({ warning: `stop: ${e.message.split('\n')[0]}` })));
    void n3;
  }
  console.log(JSON.stringify({ metric: 'kill9_to_service_restored_ms', ...stats(samples) }));
}

async function throughput(res) {
  const out = {};
  for (const mode of ['local', 'replicated']) {
    const dataDir = res.tempDir('skein-bench-tp-');
    const extraArgs = mode === 'local' ? ['--kind-option', 'counter.durability=local'] : [];
    const cluster = await res.launch({ nodes: 3, dataDir, extraArgs });
    await waitForMembership(cluster);
    const ids = Array.from({ length: 200 }, (_, i) => `tp${i}`);
    const load = new CounterLoad({ ids, nodes: cluster.nodes, rate: 1e7, window: 8 });
    await load.connectAll();
    load.start();
    await delay(1_000); // warm-up
    const a0 = load.acked;
    const t0 = performance.now();
    await delay(5_000);
    const rate = (load.acked - a0) / ((performance.now() - t0) / 1000);
    load.stopSending();
    load.closeAll();
    out[mode] = Math.round(rate);
    await res.stop(cluster);
  }
  console.log(JSON.stringify({ metric: 'counter_adds_per_s_200_counters_window8', ...out, replicated_over_local: +(out.replicated / out.local).toFixed(3) }));
}

const res = new Resources();
res.addedNodes = [];
try {
  if (want('throughput')) await throughput(res);
  if (want('kill')) await kill(res);
  if (want('migration')) await migration(res);
} finally {
  for (const a of res.addedNodes) await a.stop().catch(() => {});
  await res.cleanup().catch((e) => console.error(e.message));
}
process.exit(0);
