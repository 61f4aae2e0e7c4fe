// Chat clients for the nemesis: each says numbered lines into its room
// (at most `window` not yet echoed back), records every frame it gets as
// [seq, data, connNo], and resumes with ?client=ID&last_seq=N on another
// node when its connection closes. A say is never sent again: one that was
// not echoed before a close stays indeterminate. The checker reads `frames`.

import WebSocket from 'ws';
import { wsUrl } from '../cluster/cluster.mjs';

export class ChatConn {
  constructor({ room, user, urls, window = 2, load }) {
    this.room = room;
    this.user = user;
    this.label = `chat:${room}/${user}`;
    this.urls = urls;
    this.urlIndex = 0;
    this.window = window;
    this.load = load;
    this.clientId = null;
    this.lastSeq = 0;
    this.frames = [];        // [seq, data, connNo]
    this.resets = [];        // seq of each reset frame
    this.sent = 0;
    this.echoed = 0;
    this.writtenOff = 0;
    this.open = false;
    this.stopped = false;
    this.connNo = 0;
    this.errors = [];
    this.reconnects = 0;
  }

  get inflight() { return this.sent - this.echoed - this.writtenOff; }

  url() {
    const base = this.urls[this.urlIndex % this.urls.length];
    let q = `?user=${encodeURIComponent(this.user)}`;
    if (this.clientId) q += `&client=${encodeURIComponent(this.clientId)}&last_seq=${this.lastSeq}&resume_token=${this.resumeToken}`;
    return wsUrl(base, `/ws/chat/${encodeURIComponent(this.room)}${q}`);
  }

  connect() {
    const ws = new WebSocket(this.url(), { perMessageDeflate: false, handshakeTimeout: 5000 });
    const connNo = ++this.connNo;
    this.ws = ws;
    ws.on('open', () => { this.open = true; });
    ws.on('error', (e) => { this.errors.push(e.message); });
    ws.on('unexpected-response', (req, res) => { this.errors.push(`HTTP ${res.statusCode}`); ws.terminate(); });
    ws.on('message', (buf) => {
      let v;
      try { v = JSON.parse(buf.toString('utf8')); } catch { this.errors.push('non-JSON frame'); return; }
      if (v.seq === 0 && v.data?.type === 'welcome') { this.clientId = v.data.client; this.resumeToken = v.data.resume_token; return; }
      this.frames.push([v.seq, v.data, connNo]);
      if (v.seq > this.lastSeq) this.lastSeq = v.seq;
      if (v.data?.type === 'reset') this.resets.push(v.seq);
      if (v.data?.type === 'said' && v.data.user === this.user) {
        this.echoed++;
        if (this.writtenOff > 0) this.writtenOff--;
      }
    });
    ws.on('close', () => {
      this.open = false;
      if (this.stopped) return;
      this.writtenOff = this.sent - this.echoed;
      this.urlIndex++;
      this.reconnects++;
      const dead = this.load?.deadUrls;
      for (let k = 0; dead && k < this.urls.length && dead.has(this.urls[this.urlIndex % this.urls.length]); k++) this.urlIndex++;
      setTimeout(() => { if (!this.stopped) this.connect(); }, Math.min(100 * this.reconnects, 500));
    });
  }

  trySay() {
    if (!this.open || this.stopped || this.inflight >= this.window) return false;
    this.sent++;
    this.ws.send(JSON.stringify({ type: 'say', text: `${this.user}#${this.sent}` }));
    return true;
  }

  close() {
    this.stopped = true;
    try { this.ws?.terminate(); } catch { /* ignore */ }
  }
}

/** `rooms` rooms with `perRoom` clients each, homes spread over `urls`; one say per client every `everyMs`. */
export class ChatLoad {
  constructor({ rooms, perRoom, urls, everyMs, rng }) {
    this.deadUrls = new Set();
    this.conns = [];
    for (let r = 0; r < rooms; r++) {
      for (let c = 0; c < perRoom; c++) {
        const home = Math.floor(rng() * urls.length);
        const order = urls.map((_, k) => urls[(home + k) % urls.length]);
        this.conns.push(new ChatConn({ room: `room-${r}`, user: `u${r}x${c}`, urls: order, load: this }));
      }
    }
    this.everyMs = everyMs;
  }

  start() {
    for (const c of this.conns) c.connect();
    this.timer = setInterval(() => { for (const c of this.conns) c.trySay(); }, this.everyMs);
  }

  stopSending() { clearInterval(this.timer); }

  get sent() { return this.conns.reduce((s, c) => s + c.sent, 0); }

  closeAll() { this.stopSending(); for (const c of this.conns) c.close(); }
}
