// Starts the Socket.IO peer: redis-server and N Node processes running
// server.js with the redis adapter, all on free loopback ports. Mirrors
// `skein-demo launch`: prints `redis <url> <pid>`, then `node sI <url> <pid>`
// per node and `ready` once every node answers /healthz; SIGINT/SIGTERM stops
// every child (SIGTERM, SIGKILL after 5 s) and exits 0. A child that dies is
// reported on stderr and not restarted (the failover scenario kills one).
// --durable (the bench system `socketio-durable`): redis-server with
// `--appendonly yes --appendfsync everysec` in a temporary directory (removed
// on exit) and `server.js --durable` (redis streams adapter, connection state
// recovery); without it redis keeps nothing on disk (no RDB, no AOF).
//
//   node launch.js [--nodes 3] [--durable] [--redis-server /usr/bin/redis-server]
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { parseArgs } = require('node:util');

const { values: opts } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    'redis-server': { type: 'string', default: 'redis-server' },
    'ready-timeout': { type: 'string', default: '30' },
    durable: { type: 'boolean', default: false },
  },
});
const nodes = Number(opts.nodes);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function get(url, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function redisUp(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.setTimeout(1000, () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n')) { s.destroy(); resolve(buf.startsWith('+PONG')); }
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];
let stopping = false;
let redisDir = null;  // --durable: redis-server's dir (the AOF)

function track(name, child) {
  children.push({ name, child });
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`launch: ${name} exited (${signal ?? code})`);
  });
  return child;
}

async function stopAll() {
  stopping = true;
  const alive = children.filter(({ child }) => child.exitCode === null && child.signalCode === null);
  const exited = alive.map(({ child }) => new Promise((r) => child.once('exit', r)));
  // Node processes first, redis last.
  for (const { child } of alive.filter((c) => c.name !== 'redis')) child.kill('SIGTERM');
  const redis = alive.find((c) => c.name === 'redis');
  if (redis) {
    await Promise.race([Promise.all(exited.slice(0, -1)), sleep(5000)]);
    redis.child.kill('SIGTERM');
  }
  const killer = setTimeout(() => { for (const { child } of alive) child.kill('SIGKILL'); }, 5000);
  await Promise.all(exited);
  clearTimeout(killer);
  if (redisDir) fs.rmSync(redisDir, { recursive: true, force: true });
}

async function main() {
  process.on('SIGTERM', () => stopAll().then(() => process.exit(0)));
  process.on('SIGINT', () => stopAll().then(() => process.exit(0)));

  const redisPort = await freePort();
  let persistence = ['--appendonly', 'no'];
  if (opts.durable) {
    redisDir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-bench-redis-'));
    persistence = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', redisDir];
  }
  const redis = track('redis', spawn(opts['redis-server'], [
    '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', ...persistence,
    '--protected-mode', 'no', '--daemonize', 'no', '--loglevel', 'warning',
  ], { stdio: ['ignore', 2, 2] }));
  const deadline = Date.now() + Number(opts['ready-timeout']) * 1000;
  while (!(await redisUp(redisPort))) {
    if (Date.now() > deadline || redis.exitCode !== null) throw new Error('redis-server did not start');
    await sleep(50);
  }
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  console.log(`redis ${redisUrl} ${redis.pid}`);

  const server = path.join(__dirname, 'server.js');
  const urls = [];
  for (let i = 1; i <= nodes; i++) {
    const port = await freePort();
    const name = `s${i}`;
    const args = [server, '--port', String(port), '--redis', redisUrl, '--name', name, ...(opts.durable ? ['--durable'] : [])];
    const child = track(name, spawn(process.execPath, args, { stdio: ['ignore', 2, 2] }));
    urls.push({ name, url: `http://127.0.0.1:${port}`, child });
  }
  for (const u of urls) {
    while ((await get(`${u.url}/healthz`)) !== 200) {
      if (Date.now() > deadline || u.child.exitCode !== null) throw new Error(`${u.name} did not start`);
      await sleep(50);
    }
  }
  for (const u of urls) console.log(`node ${u.name} ${u.url} ${u.child.pid}`);
  console.log('ready');
}

main().catch(async (e) => {
  console.error(`launch: ${e.message}`);
  await stopAll();
  process.exit(1);
});
