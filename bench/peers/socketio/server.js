// The Socket.IO peer of skein's chat example, for the benchmark suite.
//
//   node server.js --port P --redis redis://127.0.0.1:RP [--name s1] [--durable]
//
// One room per connection, from the handshake query (?room=R&user=U), like
// skein's /ws/chat/{room}?user=U. "say" {text} is broadcast to the whole room
// on every node as "said" {user, text} (the sender included, as in skein),
// through @socket.io/redis-adapter over redis-server pub/sub.
// --durable (the bench system `socketio-durable`): through
// @socket.io/redis-streams-adapter instead (every broadcast is an XADD to a
// redis stream that every node reads), with Socket.IO's
// connectionStateRecovery on (a reconnecting client that presents its pid
// and offset gets its rooms back and the packets it missed, for up to 2
// minutes; every "said" then carries the stream offset as a last argument).
// GET /healthz answers {"status":"ok","name":...,"clients":N}.
'use strict';

const http = require('node:http');
const { parseArgs } = require('node:util');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    redis: { type: 'string' },
    name: { type: 'string', default: 'socketio' },
    durable: { type: 'boolean', default: false },
  },
});
if (!opts.port || !opts.redis) {
  console.error('usage: node server.js --port P --redis redis://HOST:PORT [--name NAME] [--durable]');
  process.exit(2);
}

const MAX_TEXT = 4096;

async function main() {
  // --durable: one client; the streams adapter duplicates it for its reads.
  const pub = createClient({ url: opts.redis });
  const sub = opts.durable ? null : pub.duplicate();
  const clients = sub ? [pub, sub] : [pub];
  for (const c of clients) c.on('error', (e) => console.error(`${opts.name}: redis: ${e.message}`));
  await Promise.all(clients.map((c) => c.connect()));

  const httpServer = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', name: opts.name, clients: io.engine.clientsCount }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"no such route"}');
  });

  const io = new Server(httpServer, {
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
    ...(opts.durable
      ? {
        adapter: require('@socket.io/redis-streams-adapter').createAdapter(pub),
        connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
      }
      : { adapter: createAdapter(pub, sub) }),
  });

  io.on('connection', (socket) => {
    const room = String(socket.handshake.query.room ?? '');
    const user = String(socket.handshake.query.user ?? 'anonymous');
    if (!room) {
      socket.disconnect(true);
      return;
    }
    socket.join(room);
    socket.on('say', (msg) => {
      if (!msg || typeof msg.text !== 'string' || msg.text.length > MAX_TEXT) {
        socket.emit('error', { message: 'expected {"text":"..."} (at most 4096 bytes)' });
        return;
      }
      io.to(room).emit('said', { user, text: msg.text });
    });
  });

  httpServer.listen(Number(opts.port), opts.host, () => {
    console.error(`${opts.name}: serving http://${opts.host}:${opts.port} (redis ${opts.redis}${opts.durable ? ', streams adapter, connection state recovery' : ''})`);
  });

  const stop = () => {
    io.close();
    Promise.allSettled(clients.map((c) => c.quit())).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(`${opts.name}: ${e.stack ?? e.message}`);
  process.exit(1);
});
