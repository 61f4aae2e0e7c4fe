// Persistence tests on a single node process (skein-test-app node ..., no
// --peers): crash recovery after a real SIGKILL, replay byte for byte,
// replay detecting non-determinism, and recovery refusing corrupt sessions.
//
//   SKEIN_DEMO=build/bin/skein-demo SKEIN_TEST_APP=build/bin/skein-test-app \
//     node --test tests/cluster/persistence.test.mjs
//
// Waits are event-driven (frames, closes, process exits); timeouts are only
// failure bounds. The one poll is GET /healthz while a node starts
// (tests/cluster/node.mjs), which has no event to wait on.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Resources, httpGet, httpGetJson, waitFor, wsUrl, seqProblem } from './cluster.mjs';
import { startNode, runTool, jsonLines, skeinTestAppPath } from './node.mjs';

const isValue = (d) => d !== null && typeof d === 'object' && Object.hasOwn(d, 'value') && !Object.hasOwn(d, 'type');
const isSaid = (d) => d !== null && typeof d === 'object' && d.type === 'said';
const isHistory = (d) => d !== null && typeof d === 'object' && d.type === 'history';
const isError = (d) => d !== null && typeof d === 'object' && d.type === 'error';
const ADD1 = JSON.stringify({ op: 'add', by: 1 });

describe('skein persistence (single node)', { timeout: 300_000 }, () => {
  const res = new Resources();
  const nodes = new Set();
  let bin;

  async function start(opts) {
    bin ??= skeinTestAppPath();
    const n = await startNode({ bin, ...opts });
    nodes.add(n);
    return n;
  }
  async function stop(n) {
    await res.closeClients();
    await n.stop();
    nodes.delete(n);
  }
  async function crash(n) {
    const r = await n.kill('SIGKILL');
    nodes.delete(n);
    assert.equal(r.signal, 'SIGKILL', `node must die of SIGKILL, got code ${r.code} signal ${r.signal}`);
  }

  after(async () => {
    for (const n of nodes) {
      if (!n.exitInfo) await n.kill('SIGKILL').catch(() => {});
    }
    nodes.clear();
    await res.cleanup();
  }, { timeout: 30_000 });

  /** Run a CLI tool of the test app; returns {code, stdout, stderr, cmdline}. */
  const tool = (args) => runTool(bin ?? skeinTestAppPath(), args, { timeoutMs: 30_000 });

  /** `inspect --data DIR --session KEY --json` -> parsed object (exit code checked). */
  async function inspectSession(dataDir, key, expectCode = 0) {
    const r = await tool(['inspect', '--data', dataDir, '--session', key, '--json']);
    assert.equal(r.code, expectCode, `${r.cmdline}: exit code ${r.code}, expected ${expectCode}\nstderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 2000)}`);
    const lines = jsonLines(r.stdout, r.cmdline);
    assert.equal(lines.length, 1, `${r.cmdline}: expected one JSON line, got ${lines.length}`);
    return lines[0];
  }

  /** `inspect --data DIR --json` -> {code, sessions: {key: summary}}. */
  async function inspectAll(dataDir) {
    const r = await tool(['inspect', '--data', dataDir, '--json']);
    assert.ok(r.code === 0 || r.code === 4, `${r.cmdline}: exit code ${r.code}\nstderr: ${r.stderr}`);
    const sessions = {};
    for (const s of jsonLines(r.stdout, r.cmdline)) sessions[s.session] = s;
    return { code: r.code, sessions, cmdline: r.cmdline, stdout: r.stdout };
  }

  /** `replay --json` -> {code, steps, final}. */
  async function replay(dataDir, key) {
    const r = await tool(['replay', '--data', dataDir, '--session', key, '--json']);
    let lines;
    try {
      lines = jsonLines(r.stdout, r.cmdline);
    } catch (e) {
      throw new Error(`${e.message}\nexit code ${r.code}; stderr: ${r.stderr}`);
    }
    const final = lines.at(-1);
    assert.ok(final && final.final === true, `${r.cmdline}: the last line must be {"final":true,...}, got ${JSON.stringify(final)} (exit ${r.code}, stderr ${r.stderr})`);
    return { code: r.code, steps: lines.slice(0, -1), final, cmdline: r.cmdline, stderr: r.stderr };
  }

  const newestSnapshot = (rec) => {
    assert.ok(Array.isArray(rec.snapshot_records), `snapshot_records must be an array: ${JSON.stringify(rec.snapshot_records)}`);
    return rec.snapshot_records.reduce((a, b) => (a === null || b.journal_seq > a.journal_seq ? b : a), null);
  };

  /** Wait until cond() holds, re-checked on every frame client `c` receives. */
  const waitUntil = async (c, cond, timeoutMs, what) => {
    if (cond()) return;
    await c.next(() => cond(), timeoutMs, what);
  };

  // ------------------------------------------------------------------ 1 ----
  it('kill -9 mid-traffic: the restored counter holds every value a client saw, and every frame is in the outbox',
    { timeout: 90_000 }, async (t) => {
      const dataDir = res.tempDir('skein-p-kill9-');
      const kindOptions = ['counter.outbox_keep=100000'];
      const n = await start({ dataDir, kindOptions });
      const CLIENTS = 4;
      const WINDOW = 20;     // unacknowledged adds per client
      const KILL_AT = 300;

      const clients = [];
      for (let i = 0; i < CLIENTS; i++) {
        clients.push(await res.connect(wsUrl(n.url, '/ws/counter/k'), { label: `client${i}` }));
      }
      for (const c of clients) {
        const f = await c.next(() => true, 10_000, 'the open frame');
        assert.deepEqual(f.data, { value: 0 }, `${c.label}: fresh counter`);
      }

      // Flow control. A broadcast {"value":V} does not name the add's sender,
      // so a client cannot tell its own acks from the others'. With by=1 on a
      // fresh counter, V is the number of adds applied; the test keeps the
      // adds in flight (sent - maxSeen) under CLIENTS*WINDOW and sends round
      // robin, so each client has about WINDOW unacknowledged adds.
      const sent = new Array(CLIENTS).fill(0);
      let totalSent = 0;
      let maxSeen = 0;
      let killRequested = false;
      let killed = false;
      let atKill = null;
      let resolveKilled;
      const killedP = new Promise((r) => { resolveKilled = r; });
      let crashP = null;
      let rr = 0;
      const pump = () => {
        while (!killed && totalSent - maxSeen < CLIENTS * WINDOW) {
          const i = rr++ % CLIENTS;
          const c = clients[i];
          if (!c.isOpen) return;
          c.ws.send(ADD1);
          sent[i]++;
          totalSent++;
        }
      };
      clients.forEach((c) => {
        c.ws.on('message', () => {
          // WsClient's own listener (registered first) has recorded the frame.
          const f = c.frames.at(-1);
          if (f && isValue(f.data) && f.data.value > maxSeen) maxSeen = f.data.value;
          pump();
          if (!killRequested && maxSeen >= KILL_AT) {
            // Kill once the frames already read in this turn of the event
            // loop have been handled (each one tops the window up again), so
            // the node dies with a full window of adds in flight: received or
            // not, applied or not, committed or not, released or not.
            killRequested = true;
            setImmediate(() => {
              killed = true;        // no add is sent after this point
              atKill = { maxSeen, totalSent };
              crashP = crash(n);    // SIGKILL now; the exit is awaited below
              resolveKilled();
            });
          }
        });
      });
      pump();
      let timer;
      await Promise.race([killedP, new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the counter did not reach ${KILL_AT} within 30 s: maxSeen ${maxSeen}, sent ${totalSent}; ${clients.map((c) => c.describe(2)).join(' | ')}`)), 30_000);
      })]);
      clearTimeout(timer);
      await crashP;
      for (const c of clients) await c.waitClosed(10_000);

      // What the clients saw before the crash.
      const seen = [];
      for (const c of clients) {
        assert.deepEqual(c.violations, [], `${c.label}: protocol violations`);
        assert.equal(seqProblem(c.frames), null, `${c.label}: ${seqProblem(c.frames)}`);
        // Every client was connected before the first add, so it must see
        // every broadcast, in order: values 1, 2, 3, ... without a gap.
        const values = c.frames.slice(1).map((f) => f.data.value);
        values.forEach((v, i) => assert.equal(v, i + 1, `${c.label}: broadcast #${i + 1} carries value ${v}`));
        for (const f of c.frames) seen.push({ client: c.label, seq: f.seq, data: f.data });
      }
      const maxSeq = Math.max(...seen.map((f) => f.seq));
      assert.ok(maxSeen >= KILL_AT && maxSeen <= totalSent, `maxSeen ${maxSeen}, totalSent ${totalSent}`);

      // Restart on the same data: nothing a client saw may be lost, nothing
      // never sent may appear.
      const n2 = await start({ dataDir, kindOptions });
      const obs = await res.connect(wsUrl(n2.url, '/ws/counter/k'), { label: 'observer' });
      const first = await obs.next(() => true, 10_000, 'the open frame after restart');
      assert.ok(isValue(first.data), `first frame after restart must be {"value":V}, got ${JSON.stringify(first.data)}`);
      const V = first.data.value;
      assert.ok(maxSeen <= V && V <= totalSent,
        `restored value ${V} must satisfy maxSeen ${maxSeen} <= V <= totalSent ${totalSent} (sent per client ${JSON.stringify(sent)})`);
      t.diagnostic(`SIGKILL sent at maxSeen ${atKill.maxSeen} with ${atKill.totalSent} adds sent; in the end maxSeen ${maxSeen}, sent ${totalSent} ${JSON.stringify(sent)}; restored value ${V}`);
      assert.ok(first.seq > maxSeq, `the first seq after restart (${first.seq}) must be above every seq a client saw before the crash (${maxSeq})`);
      await obs.send(ADD1);
      const nextF = await obs.nextData(isValue, 10_000, 'the value after one more add');
      assert.equal(nextF.data.value, V + 1);
      for (const f of obs.frames) seen.push({ client: 'observer', seq: f.seq, data: f.data });
      await stop(n2);

      // Every frame any client received is in the outbox, at its seq, with the same data.
      const rec = await inspectSession(dataDir, 'counter/k');
      assert.deepEqual(rec.errors, [], 'inspect errors');
      assert.ok(Array.isArray(rec.outbox_records), `outbox_records: ${JSON.stringify(rec.outbox_records)}`);
      const outbox = new Map(rec.outbox_records.map((o) => [o.seq, o]));
      const problems = [];
      for (const f of seen) {
        const o = outbox.get(f.seq);
        if (!o) problems.push(`${f.client} received seq ${f.seq} ${JSON.stringify(f.data)}: not in the outbox`);
        else if (JSON.stringify(o.data) !== JSON.stringify(f.data)) problems.push(`${f.client} received seq ${f.seq} ${JSON.stringify(f.data)}, the outbox holds ${JSON.stringify(o.data)}`);
      }
      assert.deepEqual(problems.slice(0, 20), [], `${problems.length} received frames do not match the outbox (outbox ${rec.outbox?.[0]}..${rec.outbox?.[1]})`);

      // The journal left by the crash + recovery replays cleanly.
      const rp = await replay(dataDir, 'counter/k');
      assert.equal(rp.code, 0, `${rp.cmdline}: exit ${rp.code}, final ${JSON.stringify(rp.final)}`);
      assert.equal(rp.final.divergences, 0);
      assert.deepEqual(rp.final.state, [V + 1]);
    });

  // ------------------------------------------------------------------ 2 ----
  it('replay re-executes chat and counter byte for byte and ends at the newest snapshot', { timeout: 90_000 }, async () => {
    const dataDir = res.tempDir('skein-p-replay-');
    const n = await start({
      dataDir,
      kindOptions: ['chat.snapshot_every=7', 'counter.snapshot_every=7', 'chat.keep_snapshots=3', 'counter.keep_snapshots=3'],
    });

    // chat/r: alice and bob, 30 messages (pipelined), plus two rejected inputs.
    const alice = await res.connect(wsUrl(n.url, '/ws/chat/r?user=alice'), { label: 'alice' });
    const bob = await res.connect(wsUrl(n.url, '/ws/chat/r?user=bob'), { label: 'bob' });
    for (const c of [alice, bob]) {
      const h = await c.next(() => true, 10_000, 'history');
      assert.ok(isHistory(h.data) && h.data.messages.length === 0, `${c.label}: empty history, got ${JSON.stringify(h.data)}`);
    }
    const texts = [];
    for (let i = 0; i < 30; i++) {
      const text = `m${i} ${'x'.repeat(i)}`;
      texts.push(text);
      await (i % 2 ? bob : alice).send({ type: 'say', text });  // resolves once written, not answered
    }
    await alice.send({ type: 'shout', text: 'no such message' });
    await alice.send('{not json');
    for (const c of [alice, bob]) {
      await waitUntil(c, () => c.frames.filter((f) => isSaid(f.data)).length >= 30, 15_000, '30 said frames');
    }
    await waitUntil(alice, () => alice.frames.filter((f) => isError(f.data)).length >= 2, 10_000, 'two error frames');

    // counter/c: 40 inputs, 12 of them rejected.
    const cc = await res.connect(wsUrl(n.url, '/ws/counter/c'), { label: 'counter-client' });
    assert.deepEqual((await cc.next(() => true, 10_000, 'open frame')).data, { value: 0 });
    let expected = 0;
    let rejected = 0;
    for (let i = 0; i < 40; i++) {
      if (i % 10 === 3) { await cc.send({ op: 'add', by: 'x' }); rejected++; }
      else if (i % 10 === 6) { await cc.send('not json'); rejected++; }
      else if (i % 10 === 9) { await cc.send({ op: 'mul', by: 2 }); rejected++; }
      else { await cc.send({ op: 'add', by: i + 1 }); expected += i + 1; }
    }
    await waitUntil(cc, () => cc.frames.length >= 41, 15_000, '40 answers');
    assert.equal(cc.frames.filter((f) => isError(f.data)).length, rejected, 'error answers');
    assert.deepEqual(cc.frames.filter((f) => isValue(f.data)).at(-1).data, { value: expected }, 'the last value');
    const received = [alice, bob, cc].flatMap((c) => c.frames.map((f) => ({ key: c === cc ? 'counter/c' : 'chat/r', client: c.label, seq: f.seq, data: f.data })));
    // The clients' close inputs must be handled before the stop: one still
    // pending then (poison guard) is left for the next activation, and
    // replay would end at it, past the stop's final snapshot. A session's
    // client count drops when the close's handler has run.
    await res.closeClients();
    await waitFor(async () => {
      const stats = (await httpGetJson(`${n.url}/cluster`)).session_stats ?? [];
      return stats.length > 0 && stats.every((st) => st.clients === 0);
    }, { timeoutMs: 15_000, what: 'every close handled (clients 0 in /cluster session_stats)' });
    await stop(n);

    for (const key of ['chat/r', 'counter/c']) {
      const rec = await inspectSession(dataDir, key);
      assert.deepEqual(rec.errors, [], `${key}: inspect errors`);
      assert.equal(rec.snapshots, 3, `${key}: keep_snapshots=3 => 3 snapshots, inspect says ${rec.snapshots}`);
      const newest = newestSnapshot(rec);

      const rp = await replay(dataDir, key);
      const diverged = rp.steps.filter((s) => s.divergence !== null);
      assert.deepEqual(diverged.map((s) => ({ journal_seq: s.journal_seq, divergence: s.divergence })), [], `${key}: diverging steps`);
      assert.equal(rp.code, 0, `${rp.cmdline}: exit ${rp.code}; stderr ${rp.stderr}`);
      assert.ok(rp.steps.length > 0, `${key}: replay re-executed no step (journal ${JSON.stringify(rec.journal)})`);
      assert.equal(rp.final.session, key);
      assert.equal(rp.final.snapshot_match, true, `${key}: snapshot_match`);
      assert.equal(rp.final.divergences, 0, `${key}: divergences`);
      assert.equal(rp.final.journal_seq, newest.journal_seq, `${key}: replay ends at the newest snapshot's journal seq`);
      assert.equal(rp.final.seq, newest.seq, `${key}: replay ends at the newest snapshot's event seq`);
      assert.deepEqual(rp.final.state, newest.state, `${key}: the replayed state equals the newest snapshot's state`);
      // The replayed outputs are what the clients received, seq for seq.
      const bySeq = new Map(received.filter((f) => f.key === key).map((f) => [f.seq, f]));
      let compared = 0;
      for (const s of rp.steps) {
        for (const o of s.outputs) {
          const f = bySeq.get(o.seq);
          if (!f) continue;
          compared++;
          assert.deepEqual(o.data, f.data, `${key}: replayed output seq ${o.seq} vs what ${f.client} received`);
        }
      }
      assert.ok(compared > 0, `${key}: no replayed output overlapped the frames the clients received`);
    }
    const counterFinal = await replay(dataDir, 'counter/c');
    assert.deepEqual(counterFinal.final.state, [expected], 'counter/c final state (msgpack array [value])');
  });

  // ------------------------------------------------------------------ 3 ----
  it('replay reports a divergence for a behaviour that reads the clock directly', { timeout: 60_000 }, async () => {
    const dataDir = res.tempDir('skein-p-nondet-');
    // Small snapshot_every and 3 kept snapshots so that the journal still
    // covers some messages after the final snapshot of the graceful stop
    // (the journal is kept only from the oldest kept snapshot).
    const n = await start({ dataDir, kindOptions: ['nondet.snapshot_every=2', 'nondet.keep_snapshots=3'] });
    const c = await res.connect(wsUrl(n.url, '/ws/nondet/x'), { label: 'nondet-client' });
    for (let i = 0; i < 5; i++) await c.send({ n: i });
    await waitUntil(c, () => c.frames.length >= 5, 10_000, '5 frames');
    await stop(n);

    const rec = await inspectSession(dataDir, 'nondet/x');
    assert.ok(rec.journal[0] !== null, `nondet/x: the journal must not be empty: ${JSON.stringify(rec.journal)}`);
    const rp = await replay(dataDir, 'nondet/x');
    assert.equal(rp.code, 3, `${rp.cmdline}: exit ${rp.code}, expected 3; final ${JSON.stringify(rp.final)}; stderr ${rp.stderr}`);
    const diverged = rp.steps.filter((s) => s.divergence !== null && s.divergence !== undefined);
    assert.ok(diverged.length > 0, `some step must report a divergence: ${JSON.stringify(rp.steps.map((s) => s.divergence))}`);
    assert.ok(rp.final.divergences >= diverged.length, `final.divergences ${rp.final.divergences} counts the ${diverged.length} diverging steps`);
  });

  // ------------------------------------------------------------------ 4 ----
  describe('corrupt records', () => {
    it('a corrupt journal record (in the tail recovery replays) and a corrupt snapshot refuse only their sessions',
      { timeout: 90_000 }, async () => {
        const dataDir = res.tempDir('skein-p-corrupt-');
        // Without the poison guard a frame leaves only once its input's
        // handled record (and any snapshot in its batch) is durable. With
        // it, value 10 may leave early while the handled batches of inputs
        // 3..5 still wait in the committer, and the kill below then leaves
        // no snapshot to corrupt (CI failure of stop 59).
        const kindOptions = ['counter.snapshot_every=3', 'counter.poison_guard=off'];
        const n = await start({ dataDir, kindOptions });
        const keys = ['counter/good', 'counter/bad', 'counter/snap'];
        for (const key of keys) {
          const c = await res.connect(wsUrl(n.url, `/ws/${key}`), { label: key });
          assert.deepEqual((await c.next(() => true, 10_000, 'open frame')).data, { value: 0 });
          for (let by = 1; by <= 4; by++) await c.send({ op: 'add', by });
          await c.nextData((d) => isValue(d) && d.value === 10, 10_000, 'value 10');
        }
        // inputs 1..5 per session (open + 4 adds), a snapshot at 3: the
        // journal has a tail (4, 5) that recovery must replay. A graceful
        // stop would cover it with its final snapshot, so the node dies of
        // SIGKILL with the clients still connected.
        await crash(n);
        await res.closeClients();

        const before = await inspectAll(dataDir);
        assert.equal(before.code, 0, `${before.cmdline} before any corruption: ${before.stdout}`);

        const bad = await inspectSession(dataDir, 'counter/bad');
        const badSnap = newestSnapshot(bad);
        assert.ok(badSnap, `counter/bad has a snapshot: ${JSON.stringify(bad.snapshot_records)}`);
        const tail = bad.journal_records.map((j) => j.journal_seq).filter((s) => s > badSnap.journal_seq);
        assert.ok(tail.length > 0, `counter/bad: journal entries after the newest snapshot (${badSnap.journal_seq}): ${JSON.stringify(bad.journal)}`);
        const jseq = tail[0];
        const snap = await inspectSession(dataDir, 'counter/snap');
        const sseq = newestSnapshot(snap)?.journal_seq;
        assert.ok(sseq !== undefined, `counter/snap has a snapshot: ${JSON.stringify(snap.snapshot_records)}`);

        for (const [column, key, seq] of [['journal', 'counter/bad', jseq], ['snapshots', 'counter/snap', sseq]]) {
          const r = await tool(['corrupt', '--data', dataDir, '--column', column, '--session', key, '--seq', String(seq)]);
          assert.equal(r.code, 0, `${r.cmdline}: exit ${r.code}; stderr ${r.stderr}`);
        }

        const corrupted = await inspectAll(dataDir);
        assert.equal(corrupted.code, 4, `${corrupted.cmdline}: exit code with corrupt records`);
        const names = (key, seq) => (e) => typeof e === 'string' && e.includes(`${key}#${seq}`);
        assert.ok(corrupted.sessions['counter/bad']?.errors.some(names('counter/bad', jseq)),
          `inspect lists an error naming counter/bad#${jseq}: ${JSON.stringify(corrupted.sessions['counter/bad'])}`);
        assert.ok(corrupted.sessions['counter/snap']?.errors.some(names('counter/snap', sseq)),
          `inspect lists an error naming counter/snap#${sseq}: ${JSON.stringify(corrupted.sessions['counter/snap'])}`);
        assert.deepEqual(corrupted.sessions['counter/good']?.errors, [], 'counter/good has no error');
        const badRec = await inspectSession(dataDir, 'counter/bad', 4);
        assert.ok(badRec.errors.some(names('counter/bad', jseq)), `inspect --session counter/bad: ${JSON.stringify(badRec.errors)}`);

        // Restart: the corrupt sessions are refused with 1011, the node and
        // the good session go on.
        const n2 = await start({ dataDir, kindOptions });
        for (const key of ['counter/bad', 'counter/snap']) {
          const c = await res.connect(wsUrl(n2.url, `/ws/${key}`), { label: `${key} after restart` });
          const closed = await c.waitClosed(15_000);
          if (closed.code !== 1011) {
            // Say whether the node itself went down (bounded wait for its exit).
            const exit = await Promise.race([n2.exited, new Promise((r) => setTimeout(() => r(null), 2_000))]);
            assert.fail(`${key}: expected close code 1011 naming the session, got ${closed.code} reason ${JSON.stringify(closed.reason)}; `
              + `node ${exit ? `exited (code ${exit.code}, signal ${exit.signal})` : 'still running'}\n--- node stderr (tail) ---\n${n2.stderrTail()}`);
          }
          assert.ok(closed.reason.includes(key), `${key}: the close reason must name the session, got ${JSON.stringify(closed.reason)}`);
          assert.equal(c.frames.length, 0, `${key}: no frame from a refused session: ${c.describe()}`);
        }
        assert.equal(n2.exitInfo, null, `the node must survive refusing sessions\n${n2.stderrTail()}`);
        const health = await httpGet(`${n2.url}/healthz`);
        assert.equal(health.status, 200, 'healthz after the refusals');
        const good = await res.connect(wsUrl(n2.url, '/ws/counter/good'), { label: 'counter/good after restart' });
        assert.deepEqual((await good.next(() => true, 10_000, 'open frame')).data, { value: 10 }, 'counter/good restored');
        await good.send({ op: 'add', by: 5 });
        await good.nextData((d) => isValue(d) && d.value === 15, 10_000, 'value 15');
        // A refused session is refused again, not half-activated.
        const again = await res.connect(wsUrl(n2.url, '/ws/counter/bad'), { label: 'counter/bad again' });
        assert.equal((await again.waitClosed(15_000)).code, 1011);
        await stop(n2);
      });

    // Recovery reads only what it needs (newest snapshot + journal after it):
    // a corrupt record the newest snapshot covers is reported by inspect but
    // does not take the session down.
    it('a corrupt journal record covered by the newest snapshot is reported by inspect and does not refuse the session',
      { timeout: 60_000 }, async () => {
        const dataDir = res.tempDir('skein-p-covered-');
        const kindOptions = ['counter.snapshot_every=3', 'counter.keep_snapshots=3'];
        const n = await start({ dataDir, kindOptions });
        const c = await res.connect(wsUrl(n.url, '/ws/counter/covered'), { label: 'counter/covered' });
        for (let i = 0; i < 10; i++) await c.send(ADD1);
        await c.nextData((d) => isValue(d) && d.value === 10, 10_000, 'value 10');
        await stop(n);
        const rec = await inspectSession(dataDir, 'counter/covered');
        const js = rec.journal_records.map((j) => j.journal_seq);
        assert.ok(js.length > 0, `the retained journal is not empty: ${JSON.stringify(rec.journal)}`);
        const seq = js[0];
        const r = await tool(['corrupt', '--data', dataDir, '--column', 'journal', '--session', 'counter/covered', '--seq', String(seq)]);
        assert.equal(r.code, 0, r.stderr);
        const bad = await inspectSession(dataDir, 'counter/covered', 4);
        assert.ok(bad.errors.some((e) => e.includes(`counter/covered#${seq}`)), JSON.stringify(bad.errors));
        const n2 = await start({ dataDir, kindOptions });
        const c2 = await res.connect(wsUrl(n2.url, '/ws/counter/covered'), { label: 'counter/covered after restart' });
        await c2.nextData((d) => isValue(d) && d.value === 10, 15_000, 'the snapshot value 10');
        await c2.send(ADD1);
        await c2.nextData((d) => isValue(d) && d.value === 11, 10_000, 'value 11');
        await stop(n2);
      });
  });
});
