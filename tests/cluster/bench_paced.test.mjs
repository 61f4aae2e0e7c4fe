// Bench tool test: skein-loadgen's paced scenario (rtt's open-loop form,
// bench/run's `paced`) against the benchmark's ceiling server.
//
// - Unhindered, every message due in the window is sent on schedule and
//   delivered once: msg/s equals the offered rate, none lost.
// - With the server stopped (SIGSTOP) for longer than the message timeout
//   inside the window, the schedule does not slow down (open loop: a closed
//   loop would send almost nothing while the server is stopped), the
//   messages that waited too long count as lost, and every measured message
//   is either delivered or lost; --timeline places the worst latency
//   where the stop was.
//
//   SKEIN_LOADGEN=build/bin/skein-loadgen SKEIN_CEILING=build/bin/skein-bench-ceiling \
//     node --test tests/cluster/bench_paced.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';

const bin = (env, name) => process.env[env] ?? path.resolve('build/bin', name);
const loadgenBin = bin('SKEIN_LOADGEN', 'skein-loadgen');
const ceilingBin = bin('SKEIN_CEILING', 'skein-bench-ceiling');

/** Resolves with the first stdout line `want` accepts; rejects on exit. */
function lineOf(child, want, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (want(line)) {
          child.stdout.off('data', onData);
          resolve(line);
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code, sig) => reject(new Error(`${what} exited (${sig ?? code})`)));
  });
}

/** Runs skein-loadgen; resolves with its JSON lines. `onLine` sees each. */
function loadgen(args, onLine) {
  return new Promise((resolve, reject) => {
    const child = spawn(loadgenBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = [];
    let buf = '';
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const j = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        lines.push(j);
        onLine?.(j);
      }
    });
    child.on('exit', (code) => (code === 0 ? resolve(lines) : reject(new Error(`skein-loadgen exited ${code}: ${err}`))));
  });
}

describe('skein-loadgen paced (open loop)', () => {
  let server;
  let url;

  before(async () => {
    server = spawn(ceilingBin, ['--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const node = lineOf(server, (l) => l.startsWith('node '), 'skein-bench-ceiling');
    url = (await node).split(' ')[2];
  });

  after(() => {
    server?.kill('SIGKILL');
  });

  it('carries the offered rate and loses nothing from an unhindered server', async () => {
    const lines = await loadgen(['--urls', url, '--scenario', 'paced', '--tag', `pa${Date.now().toString(36)}`,
      '--pairs', '20', '--rates', '400,1600', '--warmup', '0.5', '--duration', '2', '--msg-timeout', '2',
      '--pids', String(server.pid)]);
    const levels = lines.filter((l) => l.type === 'paced');
    assert.equal(levels.length, 2);
    for (const l of levels) {
      // Every message due in the 2 s window went out on schedule ...
      assert.ok(Math.abs(l.sent - 2 * l.offered) <= 2, `sent ${l.sent} at ${l.offered} msg/s for 2 s`);
      assert.equal(l.unsent, 0);
      // ... and reached the other client of its pair once.
      assert.equal(l.messages, l.sent, JSON.stringify(l));
      assert.equal(l.lost, 0);
      assert.equal(l.stale, 0);
      assert.equal(l.latency_ms.n, l.messages);
      assert.ok(Math.abs(l.rate - l.offered) <= 1, `delivered ${l.rate} msg/s of ${l.offered}`);
    }
  });

  it('keeps its schedule through a stopped server and counts what timed out as lost', async () => {
    let stopped = false;
    const lines = await loadgen(['--urls', url, '--scenario', 'paced', '--tag', `ps${Date.now().toString(36)}`,
      '--pairs', '20', '--rates', '500', '--warmup', '0.5', '--duration', '4', '--msg-timeout', '0.5',
      '--timeline', '--bucket-ms', '250', '--pids', String(server.pid)], (j) => {
      // The window opens 0.52 s after `connected` and lasts 4 s: a stop from
      // 1.5 s to 3 s after it lands inside the window with a second to spare
      // on each side.
      if (j.type !== 'connected') return;
      setTimeout(() => { process.kill(server.pid, 'SIGSTOP'); stopped = true; }, 1500);
      setTimeout(() => process.kill(server.pid, 'SIGCONT'), 3000);
    });
    assert.ok(stopped);
    const [l] = lines.filter((x) => x.type === 'paced');
    // Open loop: the 1.5 s stop did not hold back the sends.
    assert.ok(Math.abs(l.sent - 2000) <= 2, `sent ${l.sent}, want 2000 (500 msg/s for 4 s)`);
    // 1.5 s stopped with a 0.5 s timeout: at least the messages due in the
    // first second of the stop timed out (500), counted as lost.
    assert.ok(l.lost >= 400, `lost ${l.lost}`);
    assert.equal(l.messages + l.lost, l.sent, JSON.stringify(l));
    assert.ok(l.rate < l.offered);
    // --timeline: per 250 ms of due time, the deliveries (they add up to
    // the line's) and the worst latency. The stop spans about 0.98-2.48 s
    // of the window; the worst delivered messages were due just under the
    // 0.5 s timeout before it ended, and before the stop nothing waited.
    assert.equal(l.bucket_ms, 250);
    assert.ok(l.timeline.length <= 16, `${l.timeline.length} buckets for 4 s`);
    assert.equal(l.timeline.reduce((a, b) => a + b, 0), l.messages);
    // Bucketed by when a message was due, not when it landed: no bucket
    // holds more than the 125 sent in it, though the ones released at
    // SIGCONT all landed within a few ms.
    assert.ok(Math.max(...l.timeline) <= 126, JSON.stringify(l.timeline));
    assert.equal(l.timeline_max_us.length, l.timeline.length);
    const worst = Math.max(...l.timeline_max_us);
    const at = l.timeline_max_us.indexOf(worst) * 0.25;
    assert.ok(worst >= 200_000, `worst latency ${worst} µs`);
    assert.ok(at >= 1.5 && at < 2.75, `worst latency in the bucket at ${at} s: ${JSON.stringify(l.timeline_max_us)}`);
    assert.ok(Math.max(...l.timeline_max_us.slice(0, 3)) < 200_000, JSON.stringify(l.timeline_max_us));
  });
});
