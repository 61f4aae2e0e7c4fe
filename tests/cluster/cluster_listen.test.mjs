// --cluster-listen HOST:PORT (issue 14, item 3): the cluster port binds where
// it is told, apart from HTTP, and is what the node advertises by default:
// two nodes whose cluster ports listen on 127.0.0.2 and 127.0.0.3 (HTTP on
// 127.0.0.1) form one cluster, nothing listens on 127.0.0.1 at those ports,
// and a --cluster-port that contradicts --cluster-listen is refused.
//
//   SKEIN_DEMO=build/bin/skein-demo node --test tests/cluster/cluster_listen.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { Resources, waitFor, httpGetJson, skeinDemoPath } from './cluster.mjs';
import { freePorts, runTool } from './node.mjs';

function refused(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

describe('--cluster-listen', { timeout: 90_000 }, () => {
  const res = new Resources();
  const children = [];
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await res.cleanup();
  });

  it('binds the cluster port on its own address; two nodes form a cluster through it', async () => {
    const [h1, c1, h2, c2] = await freePorts(4);
    const start = (name, http, clusterAt, extra = []) => {
      const child = spawn(skeinDemoPath(), ['node', '--name', name, '--listen', `127.0.0.1:${http}`,
        '--cluster-listen', clusterAt, '--data', res.tempDir(`skein-cl-${name}-`), ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      child.stderr.on('data', (d) => { log += d; });
      child.stdout.on('data', (d) => { log += d; });
      children.push(child);
      return { child, log: () => log };
    };
    const n1 = start('n1', h1, `127.0.0.2:${c1}`);
    const n2 = start('n2', h2, `127.0.0.3:${c2}`, ['--seeds', `127.0.0.2:${c1}`]);
    const upCount = async (port) => {
      const c = await httpGetJson(`http://127.0.0.1:${port}/cluster`).catch(() => null);
      return (c?.members ?? []).filter((m) => m.state === 'up').length;
    };
    await waitFor(async () => (await upCount(h1)) === 2 && (await upCount(h2)) === 2,
      { timeoutMs: 30_000, what: 'n1 and n2 up in both views', describe: () => n1.log() + n2.log() });
    assert.match(n1.log(), new RegExp(`cluster port 127\\.0\\.0\\.2:${c1}`));
    assert.ok(await refused('127.0.0.1', c1), `nothing may listen on 127.0.0.1:${c1}`);
    assert.ok(await refused('127.0.0.1', c2), `nothing may listen on 127.0.0.1:${c2}`);
  });

  it('refuses a --cluster-port that contradicts --cluster-listen', async () => {
    const [h, c] = await freePorts(2);
    const r = await runTool(skeinDemoPath(), ['node', '--name', 'x', '--listen', `127.0.0.1:${h}`,
      '--cluster-port', String(c + 1), '--cluster-listen', `127.0.0.1:${c}`, '--data', res.tempDir('skein-cl-x-')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /contradicts --cluster-listen/);
  });
});
