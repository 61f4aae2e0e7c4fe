// A full disk must not take a node down: one node on a 16 MiB tmpfs, the
// disk filled by a filler file and then by writes; for 15 s of refused
// writes the node stays up (/healthz, process alive), a write gets the
// clear "store refusing writes" error (503, or 1012 "store failure" for a
// live session's client), a read of an active counter works;
// after the filler is deleted a restart opens the store with every
// acknowledged value.
//
// Needs root (mount -t tmpfs); skipped with a message when mount is refused.
//
//   SKEIN_TEST_APP=build/bin/skein-test-app node --test tests/cluster/disk_full.test.mjs

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Resources, httpGet, wsUrl } from './cluster.mjs';
import { startNode, skeinTestAppPath } from './node.mjs';

const isValue = (d) => d !== null && typeof d === 'object' && Object.hasOwn(d, 'value') && !Object.hasOwn(d, 'type');
const REFUSED = /store refusing writes|No space left on device/;

/** Mount a tmpfs of `size` on dir; returns null if mount is not permitted here. */
function mountTmpfs(dir, size) {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch (e) {
    return { refused: `${e.message}`.split('\n')[0] };
  }
}

/** Fill the filesystem of `file` until ENOSPC; returns bytes written. */
function fillDisk(file) {
  const fd = fs.openSync(file, 'w');
  let written = 0;
  try {
    for (let chunk = 1 << 20; chunk >= 512;) {
      try {
        written += fs.writeSync(fd, Buffer.alloc(chunk, 0x5a));
      } catch (e) {
        if (e.code !== 'ENOSPC') throw e;
        chunk >>= 1;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

/** POST one message into a session; {status, body}. */
async function publish(url, key, message) {
  const r = await fetch(`${url}/sse/${key}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, body: await r.text() };
}

describe('skein on a full disk', { timeout: 150_000 }, () => {
  const res = new Resources();
  let mnt = null;
  let node = null;

  after(async () => {
    if (node && !node.exitInfo) await node.kill('SIGKILL').catch(() => {});
    await res.closeClients().catch(() => {});
    if (mnt) {
      try { execFileSync('umount', [mnt], { stdio: 'pipe' }); } catch { /* reported by cleanup */ }
    }
    await res.cleanup();
  }, { timeout: 30_000 });

  it('refuses writes, keeps serving reads and /healthz, and restarts once space is freed',
    { timeout: 140_000 }, async (t) => {
      const dir = res.tempDir('skein-diskfull-');
      const m = mountTmpfs(dir, '16m');
      if (typeof m !== 'string') {
        t.skip(`cannot mount a tmpfs (needs root): ${m.refused}`);
        return;
      }
      mnt = m;
      const dataDir = path.join(mnt, 'data');
      const filler = path.join(mnt, 'filler');
      const bin = skeinTestAppPath();
      node = await startNode({ bin, dataDir });

      // An acknowledged counter, kept active by its client.
      const c = await res.connect(wsUrl(node.url, '/ws/counter/kept'), { label: 'kept' });
      await c.next((f) => isValue(f.data), 10_000, 'the open value');
      assert.ok(c.welcome?.resume_token, 'the welcome frame carries a resume token');
      for (let i = 0; i < 5; i++) await c.send({ op: 'add', by: 1 });
      await c.next((f) => isValue(f.data) && f.data.value === 5, 10_000, 'value 5');

      // A second active counter whose client will write on the full disk.
      const victim = await res.connect(wsUrl(node.url, '/ws/counter/victim'), { label: 'victim' });
      await victim.next((f) => isValue(f.data), 10_000, 'the open value of counter/victim');

      fillDisk(filler);

      // Write (new chat rooms, 20 KB messages) until the store refuses.
      const text = 'x'.repeat(20_000);
      let refused = null;
      let i = 0;
      const fillDeadline = performance.now() + 60_000;
      while (!refused) {
        assert.ok(performance.now() < fillDeadline, 'the store never refused a write on a full disk');
        const r = await publish(node.url, `chat/fill-${i++ % 40}`, { type: 'say', text });
        if (r.status >= 300) refused = r;
      }
      assert.equal(refused.status, 503, `a refused write is 503: ${refused.body}`);
      assert.match(refused.body, REFUSED, 'the refusal names the store failure');

      // A write into a live session: its commit fails, the session stops and
      // its client is told why.
      await victim.send({ op: 'add', by: 1 });
      const closed = await victim.closed;
      assert.equal(closed.code, 1012, `the writer's close: ${JSON.stringify(closed)}`);
      assert.match(closed.reason, /store failure/, 'the close reason names the store failure');

      // 15 s of refused writes: the node stays up and says why every time.
      const until = performance.now() + 15_000;
      let writes = 0;
      while (performance.now() < until) {
        const r = await publish(node.url, `counter/new-${writes++}`, { op: 'add', by: 1 });
        assert.ok(r.status >= 500, `write ${writes} on a full disk answered ${r.status}: ${r.body}`);
        assert.match(r.body, REFUSED, `write ${writes}: the error names the store failure`);
        assert.equal(node.exitInfo, null, `the node exited: ${JSON.stringify(node.exitInfo)}\n${node.stderrTail()}`);
        const h = await httpGet(`${node.url}/healthz`, { timeoutMs: 2_000 });
        assert.equal(h.status, 200, `/healthz during refused writes: ${h.status}`);
      }
      assert.ok(writes > 10, `only ${writes} writes in 15 s`);

      // A read of the active counter works: its client resumes from seq 0
      // on a new connection and gets every value from the outbox. (A new
      // client's open is an input, journaled, so it is refused like a write.)
      const { client, resume_token: token } = c.welcome;
      const q = `?client=${encodeURIComponent(client)}&last_seq=0&resume_token=${encodeURIComponent(token)}`;
      const reader = await res.connect(wsUrl(node.url, `/ws/counter/kept${q}`), { label: 'resume' });
      await reader.next((f) => isValue(f.data) && f.data.value === 5, 10_000, 'value 5 on resume');
      assert.equal(node.exitInfo, null, 'the node is still alive');

      // A restart while the filler still fills the disk comes up (the node
      // releases its ballast if RocksDB could not open otherwise) and serves
      // the acknowledged value (issue 14 saw a node abort at every restart).
      await res.closeClients();
      await node.stop();
      node = await startNode({ bin, dataDir });
      const onFull = await res.connect(wsUrl(node.url, `/ws/counter/kept${q}`), { label: 'resume after restart on a full disk' });
      await onFull.next((f) => isValue(f.data) && f.data.value === 5, 10_000, 'value 5 after a restart on a full disk');

      // Stop, free the space, restart: the acknowledged value is there and writes work again.
      await res.closeClients();
      await node.stop();
      fs.rmSync(filler);
      node = await startNode({ bin, dataDir });
      const again = await res.connect(wsUrl(node.url, '/ws/counter/kept'), { label: 'after restart' });
      const v2 = await again.next((f) => isValue(f.data), 10_000, 'the value after restart');
      assert.equal(v2.data.value, 5, 'the acknowledged value survives the restart');
      await again.send({ op: 'add', by: 1 });
      await again.next((f) => isValue(f.data) && f.data.value === 6, 10_000, 'a write after space was freed');
      await res.closeClients();
      await node.stop();
    });
});
