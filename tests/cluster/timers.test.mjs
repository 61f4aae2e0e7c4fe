// Session timers and session-to-session messages (issue 16, items 1, 2, 7):
//  - an auction closes on time with no further input: its `closed` event
//    arrives close_ms after the first bid (within a bound), on a client
//    connected to another node than the session's owner;
//  - kill -9 of the owner of an auction whose close timer is pending and of
//    a lobby whose last join (the one that fills it and tells the game) was
//    just sent: the auction's `closed` event arrives exactly once after the
//    failover, and the game (owned by another node) gets the lobby's start
//    tell exactly once (its `start` event says starts = 1, and no second one
//    follows);
//  - in the same kill: an auction owned by the victim whose only bidder
//    left before the kill (nobody connected, nobody connects) is activated
//    by its new owner from the timer index (runtime/timer_wake.cpp): GET
//    /cluster of a survivor lists it with 0 clients and its timer input
//    applied within a bound after it was due, and a newcomer sees it closed;
//  - a passivated session wakes by its timer (auction.idle_ms=6000): an
//    auction whose bidder left passivates (GET /cluster of every node stops
//    listing it) before its close timer is due, and is active again with
//    its timer input applied and no client within a bound after the due
//    time; a newcomer sees it closed.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/timers.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resources, waitForMembership, wsUrl, findIdOwnedBy, placement, httpGetJson } from './cluster.mjs';
import { nodePid, waitProcessGone, delay } from './procs.mjs';

/** How late a timer may fire on a busy test machine (the 50 ms is for an idle one). */
const LATE_MS = 1000;
/** An absence check: longer than the tell re-send interval (1 s). */
const QUIET_MS = 2500;

const count = (client, type) => client.frames.filter((f) => f.data?.type === type).length;

/** After kill -9 of the owner: failure detection (3 s) plus activation on a loaded machine. */
const WAKE_MS = 15_000;

/** The survivor whose GET /cluster lists `key` active with no client and >= 1 input, or null. */
async function firedWithoutClient(nodes, key) {
  for (const n of nodes) {
    const s = (await httpGetJson(`${n.url}/cluster`)).session_stats.find((x) => x.key === key);
    if (s && s.clients === 0 && s.inputs >= 1) return n;
  }
  return null;
}

describe('session timers and tells', { timeout: 170_000 }, () => {
  const res = new Resources();
  after(() => res.cleanup());
  let cluster;
  let dataDir;

  it('an auction closes close_ms after the first bid with no further input', async () => {
    dataDir = res.tempDir('skein-timers-');
    cluster = await res.launch({ nodes: 3, dataDir,
      extraArgs: ['--restart-backoff', '120000', '--kind-option', 'auction.idle_ms=6000'] });
    await waitForMembership(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const { id } = await findIdOwnedBy(cluster, { kind: 'auction', prefix: 'ontime-', owner: n3.name });
    const ann = await res.connect(wsUrl(n1.url, `/ws/auction/${id}?user=ann&close_ms=1500`), { label: 'ann' });
    const bob = await res.connect(wsUrl(n2.url, `/ws/auction/${id}?user=bob`), { label: 'bob' });
    await ann.nextData((d) => d.type === 'auction', 10_000, 'the auction hello');
    await bob.nextData((d) => d.type === 'auction', 10_000, 'the auction hello');
    const sent = performance.now();
    await ann.send({ type: 'bid', amount: 5 });
    const first = await bob.nextData((d) => d.type === 'bid', 10_000, "ann's bid");
    assert.deepEqual(first.data, { type: 'bid', user: 'ann', amount: 5 });
    await bob.send({ type: 'bid', amount: 9 });
    // The session orders the bids: ann ties only once bob's bid was applied
    // (sent at once, the two travel different paths and may arrive either way).
    await ann.nextData((d) => d.type === 'bid' && d.user === 'bob', 10_000, "bob's bid");
    await ann.send({ type: 'bid', amount: 9 });  // a tie: bob's earlier bid wins
    const closed = await ann.nextData((d) => d.type === 'closed', 1500 + LATE_MS + 5_000, 'the closed event');
    assert.deepEqual(closed.data, { type: 'closed', winner: 'bob', amount: 9 });
    const after = closed.at - sent;
    assert.ok(after >= 1500 - 50, `closed ${Math.round(after)} ms after the first bid was sent (close_ms 1500)`);
    assert.ok(after <= 1500 + LATE_MS, `closed ${Math.round(after)} ms after the first bid was sent: more than ${LATE_MS} ms late`);
    await bob.nextData((d) => d.type === 'closed', 5_000, 'the closed event on the other node');
    await bob.send({ type: 'bid', amount: 20 });
    const late = await bob.nextData((d) => d.type === 'error', 5_000, 'a bid after the close is rejected');
    assert.match(late.data.message, /closed/);
  });

  /** Whether any of `nodes` lists `key` as active. */
  async function activeOn(nodes, key) {
    for (const n of nodes) {
      const s = (await httpGetJson(`${n.url}/cluster`)).session_stats.find((x) => x.key === key);
      if (s) return true;
    }
    return false;
  }

  it('a passivated session is activated by its timer', async () => {
    const [n1, n2, n3] = cluster.nodes;
    const { id } = await findIdOwnedBy(cluster, { kind: 'auction', prefix: 'nap-', owner: n1.name });
    const key = `auction/${id}`;
    const closeMs = 10000;
    const c = await res.connect(wsUrl(n2.url, `/ws/auction/${id}?user=eve&close_ms=${closeMs}`), { label: 'nap' });
    await c.nextData((d) => d.type === 'auction', 10_000, 'the auction hello');
    await c.send({ type: 'bid', amount: 11 });
    await c.nextData((d) => d.type === 'bid', 10_000, 'the bid');  // the timer is durable
    const due = performance.now() + closeMs;
    await c.close();
    // It passivates (idle_ms 6000) well before its timer is due.
    while (await activeOn([n1, n2, n3], key)) {
      assert.ok(performance.now() < due - 500, `${key} did not passivate before its timer was due`);
      await delay(50);
    }
    const passivatedAt = performance.now();
    // Nothing wakes it before its time.
    while (performance.now() < due - 300) {
      assert.equal(await activeOn([n1, n2, n3], key), false, `${key} active again before its timer was due`);
      await delay(100);
    }
    let woke = null;
    while (!woke && performance.now() < due + LATE_MS * 3) {
      woke = await firedWithoutClient([n1, n2, n3], key);
      if (!woke) await delay(50);
    }
    assert.ok(woke, `${key} (passivated ${Math.round(due - passivatedAt)} ms before due) not woken within ${LATE_MS * 3} ms of its timer`);
    const newcomer = await res.connect(wsUrl(woke.url, `/ws/auction/${id}?user=fay`), { label: 'nap newcomer' });
    const seen = await newcomer.nextData((d) => d.type === 'auction', 10_000, 'the woken auction hello');
    assert.deepEqual(seen.data, { type: 'auction', closed: true, bids: 1, winner: 'eve', amount: 11 });
  });

  it('kill -9 of the owner: a pending timer fires once, a lobby tells its game once', async () => {
    const [n1, n2, n3] = cluster.nodes;
    const victim = n3;
    const { id: auctionId } = await findIdOwnedBy(cluster, { kind: 'auction', prefix: 'kill-', owner: victim.name });
    // A lobby owned by the victim whose first game is owned by another node.
    let lobbyId = null;
    for (let i = 0; i < 500 && !lobbyId; i++) {
      const id = `lobby-${i}`;
      if ((await placement(n1, `lobby/${id}`)).owner !== victim.name) continue;
      if ((await placement(n1, `game/${id}-1`)).owner !== victim.name) lobbyId = id;
    }
    assert.ok(lobbyId, 'no lobby owned by the victim with its game elsewhere');

    // An auction nobody is connected to when its owner dies.
    const { id: loneId } = await findIdOwnedBy(cluster, { kind: 'auction', prefix: 'lone-', owner: victim.name });
    const lone = await res.connect(wsUrl(n1.url, `/ws/auction/${loneId}?user=cy&close_ms=3000`), { label: 'lone' });
    await lone.nextData((d) => d.type === 'auction', 10_000, 'the auction hello');
    await lone.send({ type: 'bid', amount: 7 });
    await lone.nextData((d) => d.type === 'bid', 10_000, 'the bid');  // the timer is durable
    const loneDue = performance.now() + 3000;
    await lone.close();

    const bidder = await res.connect(wsUrl(n1.url, `/ws/auction/${auctionId}?user=ann&close_ms=3000`), { label: 'bidder' });
    await bidder.nextData((d) => d.type === 'auction', 10_000, 'the auction hello');
    const game = await res.connect(wsUrl(n2.url, `/ws/game/${lobbyId}-1`), { label: 'game' });
    await game.nextData((d) => d.type === 'game', 10_000, 'the game hello');
    const ann = await res.connect(wsUrl(n1.url, `/ws/lobby/${lobbyId}?user=ann&size=2`), { label: 'ann' });
    const bob = await res.connect(wsUrl(n2.url, `/ws/lobby/${lobbyId}?user=bob`), { label: 'bob' });
    await ann.nextData((d) => d.type === 'waiting', 10_000, 'the lobby hello');
    await bob.nextData((d) => d.type === 'waiting', 10_000, 'the lobby hello');

    await bidder.send({ type: 'bid', amount: 3 });
    await bidder.nextData((d) => d.type === 'bid', 10_000, 'the bid');  // the timer is durable
    await ann.send({ type: 'join' });
    await bob.nextData((d) => d.type === 'waiting' && d.players.length === 1, 10_000, "ann's join");
    const pid = nodePid(dataDir, victim.name);
    assert.ok(pid, `pid of ${victim.name}`);
    await bob.send({ type: 'join' });  // fills the lobby: the tell to the game
    process.kill(pid, 'SIGKILL');
    await waitProcessGone(pid, 10_000);

    const start = await game.nextData((d) => d.type === 'start', 60_000, "the game's start (the lobby's tell)");
    assert.deepEqual(start.data.players, ['ann', 'bob']);
    assert.equal(start.data.from, `lobby/${lobbyId}`);
    assert.equal(start.data.starts, 1);
    // The lone auction's timer fires on its new owner with nobody connected.
    const loneKey = `auction/${loneId}`;
    let woke = null;
    while (!woke && performance.now() < loneDue + WAKE_MS) {
      woke = await firedWithoutClient([n1, n2], loneKey);
      if (!woke) await delay(100);
    }
    assert.ok(woke, `${loneKey} was not activated (timer not fired) within ${WAKE_MS} ms after it was due`);
    const newcomer = await res.connect(wsUrl(woke.url, `/ws/auction/${loneId}?user=dee`), { label: 'newcomer' });
    const seen = await newcomer.nextData((d) => d.type === 'auction', 10_000, 'the lone auction hello');
    assert.deepEqual(seen.data, { type: 'auction', closed: true, bids: 1, winner: 'cy', amount: 7 });

    const closed = await bidder.nextData((d) => d.type === 'closed', 60_000, 'the closed event after the failover');
    assert.deepEqual(closed.data, { type: 'closed', winner: 'ann', amount: 3 });
    await delay(QUIET_MS);  // absence check: no second firing, no second tell
    assert.equal(count(game, 'start'), 1, game.describe());
    assert.equal(count(bidder, 'closed'), 1, bidder.describe());
    // A newcomer sees the same: one start.
    const late = await res.connect(wsUrl(n1.url, `/ws/game/${lobbyId}-1`), { label: 'late' });
    const hello = await late.nextData((d) => d.type === 'game', 10_000, 'the game hello');
    assert.equal(hello.data.starts, 1);
  });

});
