// Cluster test: a full disk (issue 14, item 7). One `node` of skein-demo on
// a 16 MiB tmpfs (needs root to mount; skipped otherwise):
//  - chat messages fill the disk; the node does not abort: writes are
//    refused (the client's stream is closed by the failed activation, or
//    its input is answered with an error), /healthz keeps answering 200;
//  - the node stops on SIGTERM, and starts again on the still-full disk
//    (it releases its ballast so that RocksDB can open) and serves /cluster.
// Before the fix the node aborted on a RocksDB assertion when the disk
// filled, and again at every restart.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/full_disk.test.mjs

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { Resources, WsClient, httpGet, httpGetJson, wsUrl, skeinDemoPath } from './cluster.mjs';
import { startNode } from './node.mjs';

const root = typeof process.getuid === 'function' && process.getuid() === 0;

describe('full disk', { timeout: 180_000, skip: root ? false : 'needs root to mount a tmpfs' }, () => {
  const res = new Resources();
  let mountDir;
  let node;

  after(async () => {
    await res.closeClients().catch(() => {});
    if (node && !node.exitInfo) await node.kill('SIGKILL').catch(() => {});
    if (mountDir) spawnSync('umount', [mountDir]);
    await res.cleanup();
  });

  it('refuses writes without aborting and starts again on the full disk', async () => {
    mountDir = res.tempDir('skein-fulldisk-');
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountDir]);
    assert.equal(m.status, 0, `mount failed: ${m.stderr}`);
    const dataDir = `${mountDir}/n1`;
    node = await startNode({ bin: skeinDemoPath(), dataDir });
    assert.match(node.stderrTail(), /reserved a \d+-byte ballast/);
    assert.ok(fs.existsSync(`${dataDir}/skein.ballast`));

    // Fill the disk through one chat room: 3 KB messages until the stream
    // is closed or the disk is full and an input fails.
    const text = 'x'.repeat(3000);
    let closed = null;
    for (let round = 0; round < 40 && !closed; round++) {
      let client;
      try {
        client = await res.connect(wsUrl(node.url, `/ws/chat/fill-${round}?user=u`), { label: `fill-${round}` });
      } catch (e) {
        closed = { http: e.statusCode ?? e.message };
        break;
      }
      for (let i = 0; i < 400 && client.isOpen; i++) {
        await client.send({ type: 'say', text: `${text}${i}` }).catch(() => {});
      }
      closed = await client.waitClosed(3_000).catch(() => null);
      await client.close();
      const df = fs.statfsSync(mountDir);
      if (df.bavail * df.bsize < 64 * 1024 && !closed) closed = { full: true };
    }
    assert.ok(closed, 'the disk filled up or a stream was closed');
    const df = fs.statfsSync(mountDir);
    assert.ok(df.bavail * df.bsize < 1024 * 1024, `the disk is full (${df.bavail * df.bsize} bytes free)`);
    // The node is alive and answers.
    assert.equal(node.exitInfo, null, `node exited: ${JSON.stringify(node.exitInfo)}\n${node.stderrTail()}`);
    assert.equal((await httpGet(`${node.url}/healthz`)).status, 200);
    // A new input is refused with a clear error, not a crash.
    const late = await WsClient.connect(wsUrl(node.url, '/ws/chat/late?user=u'), { label: 'late' })
      .catch((e) => ({ refused: e }));
    if (late instanceof WsClient) {
      await late.send({ type: 'say', text }).catch(() => {});
      const info = await late.waitClosed(15_000).catch(() => null);
      if (info) assert.notEqual(info.code, 1000);
      late.ws.terminate();
    }
    assert.equal(node.exitInfo, null, `node exited: ${node.stderrTail()}`);
    assert.equal((await httpGet(`${node.url}/healthz`)).status, 200);
    assert.doesNotMatch(node.stderrTail(), /Assertion/);

    // Stop, and start again on the full disk.
    await node.kill('SIGTERM');
    assert.doesNotMatch(node.stderrTail(), /Assertion/);
    node = await startNode({ bin: skeinDemoPath(), dataDir });
    assert.match(node.stderrTail(), /released the \d+-byte ballast|reserved a|ballast/);
    const cluster = await httpGetJson(`${node.url}/cluster`);
    assert.equal(cluster.node, 'n1');
    assert.equal((await httpGet(`${node.url}/healthz`)).status, 200);
  });
});
