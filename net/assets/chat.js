// The chat demo (GET /chat): a client of the `chat` behaviour
// (docs/protocol.md) that shows which node its WebSocket ends on and which
// node owns the room, and survives its node going away.
//
// Query parameters: room, user (both given: joins at once).
// On an unexpected close it reconnects through another member of the
// cluster (from /cluster), with ?client=ID&last_seq=N: the same client id
// for the whole page, and the highest seq received, so a server that keeps
// an outbox can resend what was missed. Backoff 250 ms doubling to 4 s;
// candidates are the other members in turn, then the original node again.
import { fetchJSON, h, randomId, wsBase, pageToken } from './common.js';

// A client JWT for nodes that need one: open the page as /chat?room=R#token=JWT.
const clientToken = pageToken('skein-client-token');

const $ = (sel) => document.querySelector(sel);
const q = new URLSearchParams(location.search);

const state = {
  room: q.get('room') ?? 'lobby',
  user: q.get('user') ?? `guest-${Math.floor(Math.random() * 9000 + 1000)}`,
  clientId: randomId(),
  lastSeq: null,
  members: [],          // [{name, url}]
  node: null,           // {name, url} the socket ends on (or was last)
  ws: null,
  wanted: false,        // the user wants to be in the room
  attempt: 0,
  timer: null,
  ownerTimer: null,
};

function setStatus(cls, text) {
  const s = $('#status');
  s.className = cls;
  s.textContent = text;
}

function setNode(node) {
  state.node = node;
  $('#node-name').textContent = node ? node.name : '–';
  if (node) document.title = `skein · chat · ${state.room} · ${node.name}`;
}

function system(text) {
  const list = $('#messages');
  list.append(h('li', { class: 'system' }, text));
  list.scrollTop = list.scrollHeight;
}

function renderMessage(m) {
  return h('li', { class: m.user === state.user ? 'msg mine' : 'msg', dataset: { user: m.user } },
    h('span', { class: 'user' }, m.user), h('span', { class: 'text' }, m.text));
}

function onFrame(raw) {
  let f;
  try { f = JSON.parse(raw); } catch { return system(`unreadable frame: ${raw.slice(0, 80)}`); }
  if (Number.isSafeInteger(f.seq) && (state.lastSeq === null || f.seq > state.lastSeq)) {
    state.lastSeq = f.seq;
    $('#last-seq').textContent = String(f.seq);
  }
  const d = f.data ?? f;
  const list = $('#messages');
  if (d.type === 'history') {
    // The room's last messages: authoritative, so a reconnect shows no duplicates.
    list.replaceChildren(...(d.messages ?? []).map(renderMessage));
  } else if (d.type === 'said') {
    list.append(renderMessage(d));
  } else if (d.type === 'error') {
    system(`error: ${d.message}`);
  } else if (d.type === 'reset' || f.type === 'reset') {
    system('missed events are gone from the outbox; history follows');
  } else {
    return;
  }
  list.scrollTop = list.scrollHeight;
}

async function refreshMembers(node) {
  try {
    const v = await fetchJSON(`${node.url}/cluster`);
    if (Array.isArray(v.members) && v.members.length) {
      state.members = v.members.map((m) => ({ name: m.name, url: m.url.replace(/\/$/, '') }));
    }
  } catch { /* keep what we knew */ }
}

async function refreshOwner() {
  const node = state.node;
  if (!node) return;
  try {
    const p = await fetchJSON(`${node.url}/cluster/placement?key=${encodeURIComponent(`chat/${state.room}`)}`);
    $('#owner-name').textContent = p.owner;
    $('#ranking').textContent = `(HRW ${p.ranking.join(' → ')})`;
  } catch { /* the node may be gone; the next connect refreshes */ }
}

function connect(node) {
  clearTimeout(state.timer);
  const params = new URLSearchParams({ user: state.user, client: state.clientId });
  if (clientToken) params.set('token', clientToken);  // nodes with --jwt-*: the user is the token's sub
  if (state.lastSeq !== null) params.set('last_seq', String(state.lastSeq));
  const path = `/ws/chat/${state.room.split('/').map(encodeURIComponent).join('/')}`;
  const url = `${wsBase(node.url)}${path}?${params}`;
  $('#ws-url').textContent = url;
  setStatus(state.attempt ? 'reconnecting' : 'connecting', `connecting to ${node.name}…`);
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.onopen = () => {
    if (state.ws !== ws) return;
    const moved = state.node && state.node.name !== node.name;
    state.attempt = 0;
    setNode(node);
    setStatus('connected', 'connected');
    if (moved) system(`reconnected through ${node.name}`);
    $('#text').disabled = false;
    $('#send').disabled = false;
    refreshOwner();
    refreshMembers(node);
  };
  ws.onmessage = (e) => { if (state.ws === ws) onFrame(e.data); };
  ws.onclose = (e) => {
    if (state.ws !== ws) return;
    state.ws = null;
    $('#text').disabled = true;
    $('#send').disabled = true;
    if (!state.wanted) return setStatus('left', 'not connected');
    scheduleReconnect(node, e);
  };
}

function scheduleReconnect(from, closeEvent) {
  state.attempt += 1;
  const home = state.node ?? from;
  const others = state.members.filter((m) => m.name !== home.name);
  const candidates = [...others, home];
  const next = candidates[(state.attempt - 1) % candidates.length];
  const delay = Math.min(250 * 2 ** Math.min(state.attempt - 1, 4), 4000);
  const why = closeEvent.code ? `closed ${closeEvent.code}${closeEvent.reason ? ` ${closeEvent.reason}` : ''}` : 'closed';
  setStatus('reconnecting', `${from.name} ${why}; reconnecting through ${next.name} in ${(delay / 1000).toFixed(2)} s`);
  if (state.attempt === 1) system(`lost ${from.name} (${why})`);
  state.timer = setTimeout(() => connect(next), delay);
}

function join() {
  state.room = $('#room').value.trim() || 'lobby';
  state.user = $('#user').value.trim() || state.user;
  $('#room-name').textContent = state.room;
  $('#user-name').textContent = state.user;
  if (state.ws) { state.wanted = false; state.ws.close(1000, 'switching room'); state.ws = null; }
  $('#messages').replaceChildren();
  state.lastSeq = null;
  $('#last-seq').textContent = '–';
  state.wanted = true;
  state.attempt = 0;
  $('#leave-button').disabled = false;
  const u = new URL(location.href);
  u.searchParams.set('room', state.room);
  u.searchParams.set('user', state.user);
  history.replaceState(null, '', u);
  clearInterval(state.ownerTimer);
  state.ownerTimer = setInterval(refreshOwner, 3000);
  connect(state.node);
}

function leave() {
  state.wanted = false;
  clearTimeout(state.timer);
  clearInterval(state.ownerTimer);
  if (state.ws) state.ws.close(1000, 'bye');
  $('#leave-button').disabled = true;
  setStatus('left', 'not connected');
}

async function init() {
  $('#room').value = state.room;
  $('#user').value = state.user;
  $('#client-id').textContent = state.clientId;
  const here = { name: '?', url: location.origin };
  try {
    const hz = await fetchJSON('/healthz');
    here.name = hz.node;
  } catch { /* shown as '?' */ }
  setNode(here);
  await refreshMembers(here);
  $('#join').addEventListener('submit', (e) => { e.preventDefault(); join(); });
  $('#leave-button').addEventListener('click', leave);
  $('#say').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('#text');
    const text = input.value;
    if (!text || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
    state.ws.send(JSON.stringify({ type: 'say', text }));
    input.value = '';
    input.focus();
  });
  document.body.dataset.ready = 'true';
  if (q.has('room') && q.has('user')) join();
}

init();
