// The chat demo (GET /chat): a client of the `chat` behaviour
// (docs/protocol.md) built on @skein/client (clients/js, served compiled as
// /assets/client/*.js). It shows which node its connection ends on, which
// node owns the room, and survives its node going away.
//
// Query parameters: room, user (both given: joins at once); route:
//   direct (default)  connect to the node that served this page; on a close,
//                     the other members in turn (learnt from /cluster)
//   owner             GET /gateway?session=chat/ROOM: the room's owner
//   least-loaded      GET /gateway: the least-loaded node
// Every reconnect resumes with ?client=ID&resume_token=T&last_seq=N (ID and
// T from the first welcome) after a jittered
// backoff; messages carry ids, and one not yet acknowledged is sent again
// after a reconnect (the room applies it once).
import { SkeinClient, SendError } from './client/index.js';
import { fetchJSON, h, pageToken } from './common.js';

// A client JWT for nodes that need one: open the page as /chat?room=R#token=JWT.
const clientToken = pageToken('skein-client-token');

const $ = (sel) => document.querySelector(sel);
const q = new URLSearchParams(location.search);
const ROUTES = ['direct', 'owner', 'least-loaded'];

const state = {
  room: q.get('room') ?? 'lobby',
  user: q.get('user') ?? `guest-${Math.floor(Math.random() * 9000 + 1000)}`,
  route: ROUTES.includes(q.get('route')) ? q.get('route') : 'direct',
  client: null,         // SkeinClient
  node: null,           // {name, url} the connection ends on (or ended on)
  lost: false,          // a system line for the current outage was shown
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

function showPending() {
  const n = state.client ? state.client.unacknowledged.length : 0;
  $('#pending').textContent = String(n);
}

function onMessage({ seq, data: d }) {
  $('#last-seq').textContent = String(seq);
  const list = $('#messages');
  if (d?.type === 'history') {
    // The room's last messages: authoritative, so a reconnect shows no duplicates.
    list.replaceChildren(...(d.messages ?? []).map(renderMessage));
  } else if (d?.type === 'said') {
    list.append(renderMessage(d));
  } else if (d?.type === 'error') {
    system(`error: ${d.message}`);
  } else {
    return;
  }
  list.scrollTop = list.scrollHeight;
}

async function refreshOwner() {
  const node = state.node;
  if (!node) return;
  try {
    const p = await fetchJSON(`${node.url}/cluster/placement?key=${encodeURIComponent(`chat/${state.room}`)}`);
    $('#owner-name').textContent = p.owner;
    $('#ranking').textContent = `(HRW ${p.ranking.join(' → ')})`;
  } catch { /* the node may be gone; the next welcome refreshes */ }
}

function enableInput(on) {
  $('#text').disabled = !on;
  $('#send').disabled = !on;
}

function join() {
  state.room = $('#room').value.trim() || 'lobby';
  state.user = $('#user').value.trim() || state.user;
  state.route = $('#route').value;
  $('#room-name').textContent = state.room;
  $('#user-name').textContent = state.user;
  if (state.client) state.client.close('switching room');
  $('#messages').replaceChildren();
  $('#last-seq').textContent = '–';
  $('#leave-button').disabled = false;
  const u = new URL(location.href);
  u.searchParams.set('room', state.room);
  u.searchParams.set('user', state.user);
  u.searchParams.set('route', state.route);
  history.replaceState(null, '', u);

  const c = new SkeinClient({
    url: location.origin,
    kind: 'chat',
    id: state.room,
    // nodes with --jwt-*: the user is the token's sub
    params: clientToken ? { user: state.user, token: clientToken } : { user: state.user },
    route: state.route,
    backoff: { initialMs: 250, maxMs: 4000 },
  });
  state.client = c;
  state.lost = false;
  c.on('state', ({ state: s }) => {
    if (state.client !== c) return;
    if (s === 'connecting') setStatus('connecting', 'connecting…');
    if (s === 'open') setStatus('connected', 'connected');
    if (s === 'closed') { enableInput(false); setStatus('left', 'not connected'); }
  });
  c.on('welcome', ({ client, node, url, transport, resumed }) => {
    if (state.client !== c) return;
    $('#client-id').textContent = client;
    const moved = state.node && state.node.name !== node;
    setNode({ name: node, url });
    $('#ws-url').textContent = `${transport} ${url}`;
    if (moved && resumed) system(`reconnected through ${node}`);
    else if (moved) system(`connected to ${node} (${state.route === 'owner' ? "the room's owner" : 'least loaded'})`);
    state.lost = false;
    enableInput(true);
    refreshOwner();
    showPending();
  });
  c.on('close', ({ code, reason }) => {
    if (state.client !== c || c.state === 'closed') return;
    enableInput(true);  // sends wait for the next connection
    const why = code ? `closed ${code}${reason ? ` ${reason}` : ''}` : 'closed';
    setStatus('reconnecting', `${state.node?.name ?? 'node'} ${why}; reconnecting…`);
    if (!state.lost && state.node) system(`lost ${state.node.name} (${why})`);
    state.lost = true;
  });
  c.on('message', (m) => { if (state.client === c) onMessage(m); });
  c.on('reset', () => { if (state.client === c) system('missed events are gone from the outbox; history follows'); });
  c.on('ack', () => { if (state.client === c) showPending(); });
  c.on('error', ({ error }) => { if (state.client === c) system(`error: ${error.message}`); });
  clearInterval(state.ownerTimer);
  state.ownerTimer = setInterval(refreshOwner, 3000);
  c.connect().catch(() => { /* closed before it connected: the state handler says so */ });
}

function leave() {
  clearInterval(state.ownerTimer);
  if (state.client) state.client.close('bye');
  state.client = null;
  $('#leave-button').disabled = true;
  enableInput(false);
  setStatus('left', 'not connected');
}

async function init() {
  $('#room').value = state.room;
  $('#user').value = state.user;
  $('#route').value = state.route;
  const here = { name: '?', url: location.origin };
  try {
    const hz = await fetchJSON('/healthz');
    here.name = hz.node;
  } catch { /* shown as '?' */ }
  setNode(here);
  $('#join').addEventListener('submit', (e) => { e.preventDefault(); join(); });
  $('#leave-button').addEventListener('click', leave);
  $('#say').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('#text');
    const text = input.value;
    const c = state.client;
    if (!text || !c) return;
    c.send({ type: 'say', text })
      .catch((err) => system(err instanceof SendError ? `not sent: ${err.reason}` : `not sent: ${err.message}`))
      .finally(showPending);
    showPending();
    input.value = '';
    input.focus();
  });
  document.body.dataset.ready = 'true';
  if (q.has('room') && q.has('user')) join();
}

init();
