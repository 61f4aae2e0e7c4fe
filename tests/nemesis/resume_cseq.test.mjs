// What the nemesis found (docs/reliability.md, "stalled writers"): a client
// that resumes (?client=ID&last_seq=N) on a NEW connection while the
// session still holds its member entry (the old connection not yet seen
// closing: a half-open TCP connection, a node killed before its close
// reached the session, or a member adopted in a handoff whose connection
// never re-attached) has its messages dropped silently: the new connection
// numbers its messages (cseq) from 1, the session's member entry expects
// the old connection's next cseq and treats 1..N-1 as duplicates
// (actors/session.cpp on_message: `if (cseq < c.next_cseq) return;`,
// on_join keeps next_cseq). The client gets no answer and no close; with a
// window of adds in flight it stalls, and an ack it gets later for message
// N is taken (acks are FIFO) for its first unanswered add.
//
// Fails on today's code (registered with WILL_FAIL until the fix lands).
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/nemesis/resume_cseq.test.mjs

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resources, waitForMembership, wsUrl } from '../cluster/cluster.mjs';

const isValue = (d) => d !== null && typeof d === 'object' && Object.hasOwn(d, 'value') && !Object.hasOwn(d, 'type');

describe('resume on a new connection while the old one is still open', { timeout: 120_000 }, () => {
  const res = new Resources();
  after(async () => { await res.cleanup(); }, { timeout: 40_000 });

  it('every add sent on the resumed connection is applied and acknowledged', async () => {
    const cluster = await res.launch({ nodes: 3, dataDir: res.tempDir('skein-resume-cseq-') });
    await waitForMembership(cluster);
    const [n1, n2] = cluster.nodes;
    const id = `cseq-${Date.now()}`;
    const first = await res.connect(wsUrl(n1.url, `/ws/counter/${id}`), { label: 'first' });
    await first.next((f) => isValue(f.data) && f.data.value === 0, 10_000, 'the initial value');
    for (let i = 1; i <= 5; i++) {
      await first.send({ op: 'add', by: 1 });
      await first.next((f) => isValue(f.data) && f.data.value === i, 10_000, `value ${i}`);
    }
    const clientId = first.welcome.client;
    const lastSeq = first.frames.at(-1).seq;
    // The same client resumes on another node; its first connection is still open.
    const second = await res.connect(wsUrl(n2.url, `/ws/counter/${id}?client=${clientId}&last_seq=${lastSeq}&resume_token=${first.welcome.resume_token}`), { label: 'resumed' });
    await second.send({ op: 'add', by: 1 });
    const f = await second.next((x) => isValue(x.data), 10_000, 'the value after the add on the resumed connection')
      .catch(async (e) => {
        const reader = await res.connect(wsUrl(n1.url, `/ws/counter/${id}`), { label: 'reader' });
        const v = await reader.next((x) => isValue(x.data), 10_000, 'a fresh read');
        assert.fail(`the add sent on the resumed connection was not acknowledged (${e.message}); a fresh read says ${v.data.value} (6 if it was applied)`);
      });
    assert.equal(f.data.value, 6, `value after the 6th add: ${JSON.stringify(f)}`);
    await res.stop(cluster);
  });
});
