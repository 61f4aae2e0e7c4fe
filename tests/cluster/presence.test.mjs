// Presence after failures (issue 16, item 4), with the `presence/{room}`
// demo kind on 3 real nodes:
//  (a) kill -9 of a node that holds some clients' connections (not the
//      room's owner): the others get `leave` for exactly the users whose
//      only connection was there (a user with a second tab on a live node
//      stays), within a bound; `who` lists only live users; a killed client
//      that resumes through another node (its client id and resume token)
//      gets its user a `join` again (on_resume);
//  (b) kill -9 of the room's OWNER: clients connected through the surviving
//      nodes follow the session to its new owner and stay present (no
//      leave or join for them), while a client connected through the dead
//      owner that never comes back gets a `leave` once the new activation's
//      resume_grace_ms (short here) has passed.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/presence.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resources, waitForMembership, wsUrl, findIdOwnedBy } from './cluster.mjs';
import { killLaunchedNode, delay } from './procs.mjs';

/**
 * Set on every node: how long recovered clients have to resume. Shorter than
 * the default, but longer than the time the surviving nodes take to notice
 * the owner's death and re-attach their connections (a connection that
 * comes back later is closed and then resumed: a leave and a join).
 */
const GRACE_MS = 5000;
/** How long a node's death may take to reach the owner as a leave. */
const LEAVE_BOUND_MS = 10_000;
/** An absence check after the last expected event. */
const QUIET_MS = 1500;

const events = (client, type) => client.frames.filter((f) => f.data?.type === type).map((f) => f.data.user);
const lastSeq = (client) => client.frames.reduce((m, f) => Math.max(m, f.seq), 0);

async function who(client) {
  const from = client.frames.length;
  await client.send({ type: 'who' });
  const answer = await client.next((f) => f.data?.type === 'members' && client.frames.indexOf(f) >= from,
    10_000, 'the answer to who');
  return answer.data.users;
}

describe('presence after node and owner death', { timeout: 170_000 }, () => {
  const res = new Resources();
  after(() => res.cleanup());
  const launch = async (prefix) => {
    const dataDir = res.tempDir(prefix);
    const cluster = await res.launch({ nodes: 3, dataDir,
      extraArgs: ['--kind-option', `presence.resume_grace_ms=${GRACE_MS}`] });
    await waitForMembership(cluster);
    return { dataDir, cluster };
  };
  const open = async (node, room, user, label, extra = '') => {
    const c = await res.connect(wsUrl(node.url, `/ws/presence/${room}?user=${user}${extra}`), { label });
    await c.nextData((d) => d.type === 'members', 10_000, `${label}'s members hello`);
    return c;
  };

  it("a connection node's death: leave for exactly its users, join again on resume", async () => {
    const { dataDir, cluster } = await launch('skein-presence-a-');
    const [n1, n2, n3] = cluster.nodes;
    const { id: room } = await findIdOwnedBy(cluster, { kind: 'presence', prefix: 'conn-', owner: n1.name });
    const ann = await open(n2, room, 'ann', 'ann@n2');
    const carl = await open(n1, room, 'carl', 'carl@n1');
    const dave2 = await open(n2, room, 'dave', 'dave@n2');
    const bob = await open(n3, room, 'bob', 'bob@n3');
    await open(n3, room, 'dave', 'dave@n3');  // dave's second tab
    assert.deepEqual(await who(ann), ['ann', 'bob', 'carl', 'dave']);
    await carl.nextData((d) => d.type === 'join' && d.user === 'bob', 10_000, "bob's join at carl");
    assert.deepEqual(events(carl, 'join'), ['carl', 'dave', 'bob'], carl.describe());  // one per user

    const killed = performance.now();
    await killLaunchedNode(dataDir, n3.name);
    const left = await ann.nextData((d) => d.type === 'leave', LEAVE_BOUND_MS, "bob's leave");
    assert.equal(left.data.user, 'bob');
    assert.ok(left.at - killed <= LEAVE_BOUND_MS);
    await carl.nextData((d) => d.type === 'leave' && d.user === 'bob', 5_000, "bob's leave at carl");
    assert.deepEqual(await who(carl), ['ann', 'carl', 'dave']);
    await delay(QUIET_MS);
    assert.deepEqual(events(ann, 'leave'), ['bob'], ann.describe());  // dave still has a tab on n2
    assert.deepEqual(events(dave2, 'leave'), ['bob'], dave2.describe());

    // bob comes back through n2 with its client id and resume token.
    const { client, resume_token: token } = bob.welcome;
    const back = await res.connect(wsUrl(n2.url,
      `/ws/presence/${room}?user=bob&client=${client}&last_seq=${lastSeq(bob)}&resume_token=${token}`),
    { label: 'bob@n2' });
    await ann.nextData((d) => d.type === 'join' && d.user === 'bob', 10_000, "bob's join after the resume");
    await back.nextData((d) => d.type === 'join' && d.user === 'bob', 10_000, 'its own join, resumed');
    assert.deepEqual(await who(back), ['ann', 'bob', 'carl', 'dave']);
  });

  it("the owner's death: survivors stay present, the owner's own clients leave after the grace", async () => {
    const { dataDir, cluster } = await launch('skein-presence-b-');
    const [n1, n2, n3] = cluster.nodes;
    const { id: room } = await findIdOwnedBy(cluster, { kind: 'presence', prefix: 'owner-', owner: n3.name });
    const ann = await open(n1, room, 'ann', 'ann@n1');
    const bob = await open(n2, room, 'bob', 'bob@n2');
    await open(n3, room, 'carl', 'carl@n3');  // never comes back
    await ann.nextData((d) => d.type === 'join' && d.user === 'carl', 10_000, "carl's join");
    await bob.nextData((d) => d.type === 'join' && d.user === 'carl', 10_000, "carl's join");
    const joinsBefore = new Map([[ann, events(ann, 'join').length], [bob, events(bob, 'join').length]]);

    const killed = performance.now();
    await killLaunchedNode(dataDir, n3.name);
    const left = await ann.nextData((d) => d.type === 'leave', 60_000, "carl's leave after the failover");
    assert.equal(left.data.user, 'carl');
    assert.ok(left.at - killed >= GRACE_MS - 100,
      `carl left ${Math.round(left.at - killed)} ms after the kill, before the ${GRACE_MS} ms grace`);
    await bob.nextData((d) => d.type === 'leave' && d.user === 'carl', 10_000, "carl's leave at bob");
    assert.deepEqual(await who(ann), ['ann', 'bob']);
    assert.deepEqual(await who(bob), ['ann', 'bob']);
    await delay(QUIET_MS);
    // No flapping: the survivors resumed (on_resume) without a leave or a join.
    for (const c of [ann, bob]) {
      assert.deepEqual(events(c, 'leave'), ['carl'], c.describe());
      assert.deepEqual(events(c, 'join').slice(joinsBefore.get(c)), [], c.describe());
      assert.equal(c.closeInfo, null, `${c.label} stayed connected`);
    }
  });
});
