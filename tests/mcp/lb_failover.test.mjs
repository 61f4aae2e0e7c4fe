// The MCP SDK client behind each shipped load balancer (deploy/nginx via
// scripts/lb-nginx.sh, deploy/haproxy via scripts/lb-haproxy.sh) keeps
// working when a node is killed: after SIGKILL of one of three nodes (which
// the launcher does not restart within the test), every further tool call
// through the balancer succeeds, and the balancer stops sending to the dead
// node. Also checks both configs with `nginx -t` / `haproxy -c`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import test from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { launchCluster, makeTempDir, removeDir } from '../cluster/cluster.mjs';
import { nodePid, waitProcessGone } from '../cluster/procs.mjs';
import { startHaproxy, startNginx } from './lib.mjs';

for (const [name, start, check] of [
  ['nginx', startNginx, (dir) => execFileSync('nginx', ['-t', '-q', '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', `error_log ${dir}/error.log warn;`])],
  ['haproxy', startHaproxy, (dir) => execFileSync('haproxy', ['-c', '-q', '-f', path.join(dir, 'haproxy.cfg')])],
]) {
  test(`MCP SDK client through ${name} survives a node killed mid-session`, { timeout: 180_000 }, async () => {
    const dataDir = makeTempDir('skein-lbf-');
    const cluster = await launchCluster({ nodes: 3, dataDir, extraArgs: ['--restart-backoff', '120000'] });
    const lb = await start(cluster.nodes.map((n) => n.url));
    const client = new Client({ name: 'skein-lb-test', version: '1.0.0' }, { capabilities: {} });
    const served = [];
    const fetchLogged = async (url, init = {}) => {
      const res = await fetch(url, init);
      served.push({ node: res.headers.get('x-skein-node'), status: res.status });
      return res;
    };
    try {
      check(lb.dir);  // the generated config passes the balancer's own check
      const transport = new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), { fetch: fetchLogged });
      await client.connect(transport);
      const call = async (i) => {
        const r = await client.callTool({ name: 'test_tool_with_progress', arguments: {} });
        assert.equal(r.content[0].text, 'Tool with progress executed successfully', `call ${i}`);
      };
      for (let i = 0; i < 3; i++) await call(i);

      const victim = cluster.nodes[1];
      const pid = nodePid(dataDir, victim.name);
      process.kill(pid, 'SIGKILL');
      await waitProcessGone(pid, 10_000);
      const before = served.length;
      for (let i = 0; i < 12; i++) await call(`after kill ${i}`);
      const after = served.slice(before);
      assert.ok(after.every((s) => s.node !== victim.name), `a request was answered by the dead node: ${JSON.stringify(after)}`);
      assert.ok(after.every((s) => s.status < 500), `5xx through ${name} after the kill: ${JSON.stringify(after)}`);
      assert.ok(new Set(after.map((s) => s.node)).size >= 2, `${name} used only ${JSON.stringify(after)}`);
      await transport.terminateSession().catch(() => {});
    } finally {
      await client.close().catch(() => {});
      await lb.stop();
      await cluster.stop().catch(() => {});
      removeDir(dataDir);
    }
  });
}
