// The TypeScript SDK's own stateful Streamable HTTP server (one process:
// its sessions live in this process's memory, so it cannot run behind a
// non-sticky load balancer), with the same `test_simple_text` tool as
// skein's everything server. For bench/mcp/bench.mjs.
//
//   node bench/mcp/sdk_server.mjs [--json]    prints "sdk http://127.0.0.1:PORT"
// --json: answer POSTs with application/json (enableJsonResponse), as skein
// does for calls that finish at once; default: an SSE stream per POST.
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const sdk = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../tests/mcp/node_modules/@modelcontextprotocol/sdk/dist/esm');
const { McpServer } = await import(`${sdk}/server/mcp.js`);
const { StreamableHTTPServerTransport } = await import(`${sdk}/server/streamableHttp.js`);
const json = process.argv.includes('--json');

const transports = new Map();

function newServer() {
  const s = new McpServer({ name: 'sdk-bench', version: '1.0.0' });
  s.registerTool('test_simple_text', { description: 'Returns a simple text response' }, async () => ({
    content: [{ type: 'text', text: 'This is a simple text response for testing.' }],
  }));
  return s;
}

const server = http.createServer(async (req, res) => {
  let body;
  if (req.method === 'POST') {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { res.writeHead(400).end(); return; }
  }
  const sid = req.headers['mcp-session-id'];
  let t = sid ? transports.get(sid) : undefined;
  if (!t) {
    if (sid || body?.method !== 'initialize') { res.writeHead(sid ? 404 : 400).end(); return; }
    t = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: json,
      onsessioninitialized: (id) => transports.set(id, t),
    });
    t.onclose = () => { if (t.sessionId) transports.delete(t.sessionId); };
    await newServer().connect(t);
  }
  await t.handleRequest(req, res, body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`sdk http://127.0.0.1:${server.address().port}`));
