// A corrupt SST block on a session's owner is served from a replica: three
// node processes (default durability: replicated), counters owned by n1 are
// written and acknowledged, n1 restarts once (its WAL is replayed into SST
// files) and stops cleanly, bytes in the data blocks of its SST files that
// hold the counters are flipped, n1 restarts on the same ports and data, and the counters read through n1 come
// back with their acknowledged values (no 1011); n1 counts the corrupt
// reads in skein_corrupt_reads_total.
//
//   SKEIN_TEST_APP=build/bin/skein-test-app node --test tests/cluster/corrupt_sst.test.mjs

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Resources, httpGet, httpGetJson, waitFor, wsUrl, findIdOwnedBy } from './cluster.mjs';
import { startNode, freePorts, skeinTestAppPath } from './node.mjs';

const isValue = (d) => d !== null && typeof d === 'object' && Object.hasOwn(d, 'value') && !Object.hasOwn(d, 'type');

/**
 * Where the data blocks of a block-based SST end: the offset of its index
 * block, read from the footer (the last 53 bytes: checksum type, then the
 * metaindex and index block handles as varint64 pairs). Data blocks come
 * first in the file; no filter block is configured.
 */
function dataBlocksEnd(buf) {
  let at = buf.length - 53 + 1;
  const varint = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[at++];
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
    }
  };
  varint(); varint();  // metaindex handle
  const end = varint(); // index block offset (0: no data blocks, only range deletions)
  if (!(end >= 0 && end < buf.length - 53)) throw new Error(`not a block-based SST footer (index at ${end} of ${buf.length} bytes)`);
  return end;
}

/**
 * Flip 8 bytes of the first stored key containing `needle` inside the data
 * blocks of every *.sst of dir (these small blocks are stored uncompressed).
 * Not "the middle of the file": in files this small that is a meta block
 * (properties, range deletions), whose corruption makes the store refuse to
 * open at all. Returns the files changed.
 */
function corruptSsts(dir, needle) {
  const changed = [];
  for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.sst'))) {
    const f = path.join(dir, name);
    const buf = fs.readFileSync(f);
    const at = buf.indexOf(needle);
    if (at < 0 || at + 8 > dataBlocksEnd(buf)) continue;
    for (let i = at; i < at + 8; i++) buf[i] ^= 0xff;
    fs.writeFileSync(f, buf);
    changed.push(f);
  }
  return changed;
}

async function metric(url, name) {
  const r = await httpGet(`${url}/metrics`);
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(r.body);
  return m ? Number(m[1]) : null;
}

describe('a corrupt SST served from a replica', { timeout: 150_000 }, () => {
  const res = new Resources();
  const nodes = new Map();

  after(async () => {
    await res.closeClients().catch(() => {});
    for (const n of nodes.values()) if (!n.exitInfo) await n.kill('SIGKILL').catch(() => {});
    await res.cleanup();
  }, { timeout: 30_000 });

  it('reads the acknowledged counters of a restarted owner whose SST files are corrupt',
    { timeout: 140_000 }, async () => {
      const bin = skeinTestAppPath();
      const root = res.tempDir('skein-corrupt-sst-');
      const ports = await freePorts(6);
      const portsOf = { n1: ports.slice(0, 2), n2: ports.slice(2, 4), n3: ports.slice(4, 6) };
      const seedOf = (name) => `127.0.0.1:${portsOf[name][1]}`;
      const start = async (name, seed) => {
        const n = await startNode({
          bin, name, dataDir: path.join(root, name), ports: portsOf[name], extraArgs: ['--seeds', seedOf(seed)],
        });
        nodes.set(name, n);
        return n;
      };
      const n1 = await start('n1', 'n2');
      await start('n2', 'n1');
      await start('n3', 'n1');
      const members = async (n) => {
        const h = await httpGetJson(`${n.url}/healthz`).catch(() => null);
        return h && h.state === 'up' && h.peers === 2 && h.peers_connected === 2;
      };
      await waitFor(async () => (await Promise.all([...nodes.values()].map(members))).every(Boolean),
        { timeoutMs: 30_000, what: 'three connected members' });

      const cluster = { nodes: [...nodes.values()].map((n) => ({ name: n.name, url: n.url })) };
      const counters = [];
      for (let k = 0; k < 3; k++) {
        const { id } = await findIdOwnedBy(cluster, { kind: 'counter', prefix: `sst${k}-`, owner: 'n1' });
        counters.push({ id, value: 3 + k });
      }
      for (const c of counters) {
        const ws = await res.connect(wsUrl(n1.url, `/ws/counter/${c.id}`), { label: c.id });
        await ws.next((f) => isValue(f.data), 10_000, 'the open value');
        for (let i = 0; i < c.value; i++) await ws.send({ op: 'add', by: 1 });
        await ws.next((f) => isValue(f.data) && f.data.value === c.value, 10_000, `value ${c.value} (acknowledged)`);
      }
      await res.closeClients();

      // A stop leaves the writes in the WAL; the next open replays it into
      // SST files (RocksDB flushes recovered memtables), the stop after that
      // leaves them on disk.
      await nodes.get('n1').stop();
      await start('n1', 'n2');
      await nodes.get('n1').stop();
      const changed = corruptSsts(path.join(root, 'n1'), 'counter/sst');
      assert.ok(changed.length > 0, 'a clean stop leaves SST files to corrupt');

      const again = await start('n1', 'n2');
      await waitFor(() => members(again), { timeoutMs: 30_000, what: 'n1 back with both peers' });
      for (const c of counters) {
        const ws = await res.connect(wsUrl(again.url, `/ws/counter/${c.id}`), { label: `${c.id} after` });
        const f = await ws.next((x) => isValue(x.data), 20_000, `the value of ${c.id} through n1`)
          .catch((e) => { throw new Error(`${e.message}\n--- n1 stderr ---\n${again.stderrTail()}`); });
        assert.equal(f.data.value, c.value, `${c.id}: the acknowledged value`);
        assert.equal(ws.closeInfo, null, `${c.id}: not closed`);
      }
      const corrupt = await metric(again.url, 'skein_corrupt_reads_total');
      assert.ok(corrupt >= 1, `skein_corrupt_reads_total on n1 is ${corrupt}\n${again.stderrTail()}`);
      await res.closeClients();
      for (const n of nodes.values()) await n.stop();
    });
});
