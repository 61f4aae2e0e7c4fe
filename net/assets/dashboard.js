// The cluster dashboard (GET /). Everything it shows comes from the nodes'
// own endpoints, read from the browser:
//   GET  /cluster            on any node: members {name, url, connected, self}
//   GET  {member}/metrics    per node: gauges and counters; rates and
//                            latency percentiles are CURRENT: computed here
//                            from the scrapes of the last RATE_WINDOW_MS
//                            (counter and histogram-bucket deltas)
//   GET  {member}/cluster    per node: the sessions active on it (owner) and
//                            session_stats {key, clients, inputs}; the table
//                            is sorted busiest first (inputs/s over the same
//                            window, then clients) and filtered by #session-search
//   GET  /cluster/placement  the HRW ranking of a key (owner, then replicas)
//   SSE  {member}/cluster/events  every node's event feed, merged
//   POST /admin/drain, /admin/move  the buttons (with the admin token the
//                            page was given as #token=...)
// If the node that served this page goes away, membership is read from any
// other member that answers.
import {
  fetchJSON, fetchText, fetchWithTimeout, parseMetrics, h, fmtBytes, fmtRate, fmtTime, pageToken,
} from './common.js';

// The admin token for the buttons: open the page as /#token=ADMIN_TOKEN
// (e.g. the launch's DATA/admin.token); sent as Authorization: Bearer.
const adminToken = pageToken('skein-admin-token');

const POLL_MS = 1000;
const RATE_WINDOW_MS = 3000;   // rates and percentiles over (about) the last 3 s
const MAX_ROWS = 200;
const MAX_EVENTS = 200;

const state = {
  served: null,              // name of the node that served this page
  source: location.origin,   // where membership is read from
  members: [],               // [{name, url, connected, self, state?}]
  history: new Map(),        // name -> [{t, m}] scrapes of the last RATE_WINDOW_MS, oldest first
  sessionHistory: [],        // [{t, inputs: Map key -> inputs}] over the same window
  filter: '',                // the search box, lower case
  cards: new Map(),          // name -> card element
  placements: new Map(),     // key -> {sig, ranking}
  feeds: new Map(),          // url -> EventSource
  feedOpen: new Set(),       // urls whose EventSource is open
  seen: new Set(),           // raw event lines, for de-duplication
  events: [],                // parsed events, newest first
  draining: new Map(),       // node name -> true while a drain runs
  refreshSoon: null,
};

const $ = (sel) => document.querySelector(sel);

// ------------------------------------------------------------ membership --

async function clusterView() {
  const candidates = [state.source, location.origin, ...state.members.map((m) => m.url)];
  for (const url of [...new Set(candidates)]) {
    try {
      const v = await fetchJSON(`${url}/cluster`, { timeoutMs: 2500 });
      state.source = url;
      return v;
    } catch { /* try the next member */ }
  }
  return null;
}

// ----------------------------------------------------------------- cards --

function card(name) {
  let c = state.cards.get(name);
  if (c) return c;
  const field = (label, key) => [h('dt', {}, label), h('dd', { dataset: { field: key } }, '–')];
  c = h('article', { class: 'node-card', dataset: { node: name } },
    h('header', {},
      h('h3', {}, name),
      h('span', { class: 'badge state', dataset: { field: 'state' } }, '…')),
    h('div', { class: 'url mono muted', dataset: { field: 'url' } }, ''),
    h('dl', {},
      field('sessions', 'sessions'),
      field('connections', 'connections'),
      field('messages/s in', 'msgs_in'),
      field('messages/s out', 'msgs_out'),
      field('commits/s', 'commits'),
      field('checkpoint p50 / p99', 'ckpt'),
      field('replication lag p99', 'repl'),
      field('migrations in/out', 'migrations'),
      field('RSS', 'rss')),
    h('button', { class: 'drain', dataset: { node: name }, onclick: () => drain(name) }, `Drain ${name}`));
  state.cards.set(name, c);
  return c;
}

function setField(c, key, text) {
  const el = c.querySelector(`[data-field="${key}"]`);
  if (el && el.textContent !== text) el.textContent = text;
}

/** Appends `sample` and drops those older than the window (keeping two). */
function windowed(list, sample) {
  list.push(sample);
  while (list.length > 2 && sample.t - list[1].t >= RATE_WINDOW_MS) list.shift();
  return list;
}

/** Cumulative bucket counts [{le, c}] of histogram `base` in a parsed scrape. */
function buckets(m, base) {
  return m.samples.filter((s) => s.name === `${base}_bucket`)
    .map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), c: s.value }))
    .sort((a, b) => a.le - b.le);
}

/**
 * The q-quantile (seconds) of the observations between two scrapes, from the
 * bucket deltas, interpolated within a bucket like Prometheus'
 * histogram_quantile; undefined if nothing was observed in between.
 */
export function quantileBetween(older, newer, base, q) {
  const was = new Map(buckets(older, base).map((b) => [b.le, b.c]));
  const d = buckets(newer, base).map((b) => ({ le: b.le, c: b.c - (was.get(b.le) ?? 0) }));
  const total = d.length ? d[d.length - 1].c : 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevC = 0;
  for (const b of d) {
    if (b.c >= rank) {
      if (b.le === Infinity) return prevLe;
      return prevLe + (b.le - prevLe) * (b.c > prevC ? (rank - prevC) / (b.c - prevC) : 1);
    }
    prevLe = b.le;
    prevC = b.c;
  }
  return prevLe;
}

function fmtMs(s) {
  if (s === undefined) return '–';
  const ms = s * 1000;
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function nodeState(member, scrape) {
  // A drained node exits: once the members call it down (or it left), that
  // wins over the drain this page started (its drain_finished event is
  // published on the drained node, which this page may not be watching).
  if (member.state && member.state !== 'up' && member.state !== 'draining') return member.state;
  if (state.draining.get(member.name)) return 'draining';
  if (member.state && member.state !== 'up') return member.state;   // once members carry a state
  if (!scrape) return 'unreachable';
  if (member.connected === false && !member.self) return 'disconnected';
  return 'up';
}

function renderCard(member, scrape) {
  const c = card(member.name);
  const st = nodeState(member, scrape);
  c.className = `node-card state-${st}${member.name === state.served ? ' self' : ''}`;
  const badge = c.querySelector('[data-field="state"]');
  badge.className = `badge state state-${st}`;
  badge.textContent = st;
  setField(c, 'url', member.url);
  if (!scrape) {
    // No numbers rather than stale ones; rates restart from the next scrape.
    for (const el of c.querySelectorAll('dd[data-field]')) el.textContent = '–';
    state.history.delete(member.name);
    return;
  }
  const { m, t } = scrape;
  const hist = windowed(state.history.get(member.name) ?? [], scrape);
  state.history.set(member.name, hist);
  const prev = hist.length > 1 ? hist[0] : null;   // the oldest scrape in the window
  const rate = (name) => {
    if (!prev) return undefined;
    const dt = (t - prev.t) / 1000;
    const d = (m.value(name) ?? 0) - (prev.m.value(name) ?? 0);
    return dt > 0 && d >= 0 ? d / dt : undefined;
  };
  const pct = (base) => {
    if (!prev) return '–';
    const p50 = quantileBetween(prev.m, m, base, 0.5);
    const p99 = quantileBetween(prev.m, m, base, 0.99);
    return p50 === undefined ? '–' : `${fmtMs(p50)} / ${fmtMs(p99)} ms`;
  };
  setField(c, 'sessions', String(m.value('skein_sessions') ?? '–'));
  setField(c, 'connections', String(m.value('skein_connections') ?? '–'));
  setField(c, 'msgs_in', fmtRate(rate('skein_messages_in_total')));
  setField(c, 'msgs_out', fmtRate(rate('skein_messages_out_total')));
  setField(c, 'commits', fmtRate(rate('skein_commits_total')));
  setField(c, 'ckpt', pct('skein_checkpoint_latency_seconds'));
  const lag = prev ? quantileBetween(prev.m, m, 'skein_replication_lag_seconds', 0.99) : undefined;
  setField(c, 'repl', lag === undefined ? '–' : `${fmtMs(lag)} ms`);
  setField(c, 'migrations', `${m.value('skein_migrations_in_total') ?? 0} / ${m.value('skein_migrations_out_total') ?? 0}`);
  setField(c, 'rss', fmtBytes(m.value('process_resident_memory_bytes')));
}

// -------------------------------------------------------------- sessions --

function membersSig() {
  return state.members.map((m) => m.name).join(',');
}

async function ranking(key) {
  const sig = membersSig();
  const cached = state.placements.get(key);
  if (cached && cached.sig === sig) return cached.ranking;
  try {
    const p = await fetchJSON(`${state.source}/cluster/placement?key=${encodeURIComponent(key)}`);
    state.placements.set(key, { sig, ranking: p.ranking });
    return p.ranking;
  } catch {
    return cached ? cached.ranking : null;
  }
}

async function renderSessions(views) {
  const owners = new Map();   // key -> [node names it is active on]
  const clients = new Map();  // key -> clients attached (summed over nodes)
  const inputs = new Map();   // key -> inputs handled by its activations
  for (const [name, view] of views) {
    for (const key of view?.sessions ?? []) {
      if (!owners.has(key)) owners.set(key, []);
      owners.get(key).push(name);
    }
    for (const s of view?.session_stats ?? []) {
      clients.set(s.key, (clients.get(s.key) ?? 0) + s.clients);
      inputs.set(s.key, (inputs.get(s.key) ?? 0) + s.inputs);
    }
  }
  // Current inputs/s per session: against the oldest sample in the window
  // that knows the key (a session new to the window counts from 0).
  const now = performance.now();
  const sh = windowed(state.sessionHistory, { t: now, inputs });
  const rates = new Map();
  for (const [key, n] of inputs) {
    const old = sh.find((x) => x !== sh[sh.length - 1] && x.inputs.has(key));
    rates.set(key, old && now > old.t ? Math.max(0, n - old.inputs.get(key)) / ((now - old.t) / 1000) : 0);
  }
  const all = [...owners.keys()];
  const keys = all.filter((k) => !state.filter || k.toLowerCase().includes(state.filter))
    .sort((a, b) => (rates.get(b) ?? 0) - (rates.get(a) ?? 0)
      || (clients.get(b) ?? 0) - (clients.get(a) ?? 0)
      || a.localeCompare(b));
  const shown = keys.slice(0, MAX_ROWS);
  $('#session-count').textContent = keys.length === all.length ? `(${all.length})` : `(${keys.length} of ${all.length})`;
  const more = $('#sessions-more');
  more.hidden = keys.length <= MAX_ROWS;
  more.textContent = `and ${keys.length - MAX_ROWS} more`;
  const rankings = await Promise.all(shown.map((k) => ranking(k)));
  const tbody = $('#sessions tbody');
  const existing = new Map([...tbody.rows].map((r) => [r.dataset.key, r]));
  shown.forEach((key, i) => {
    const active = owners.get(key);
    const rank = rankings[i] ?? [];
    let row = existing.get(key);
    if (!row) {
      const select = h('select', { class: 'move-to', 'aria-label': `move ${key} to` });
      row = h('tr', { dataset: { key } },
        h('td', { class: 'key mono' }, key),
        h('td', { class: 'clients num' }),
        h('td', { class: 'rate num' }),
        h('td', { class: 'owner' }),
        h('td', { class: 'replicas' }),
        h('td', { class: 'actions' }, select, ' ',
          h('button', { class: 'move', onclick: () => move(key, select.value) }, 'Move')));
    }
    existing.delete(key);
    tbody.append(row);   // keeps rows in display order (busiest first)
    const setCell = (sel, v) => { const el = row.querySelector(sel); if (el.textContent !== v) el.textContent = v; };
    setCell('.clients', String(clients.get(key) ?? '–'));
    setCell('.rate', fmtRate(rates.get(key)));
    row.dataset.rate = String(rates.get(key) ?? 0);
    const ownerText = active.join(', ');
    const ownerCell = row.querySelector('.owner');
    if (ownerCell.textContent !== ownerText) ownerCell.textContent = ownerText;
    ownerCell.dataset.owner = ownerText;
    const repl = row.querySelector('.replicas');
    const replSig = rank.join(',') + '|' + ownerText;
    if (repl.dataset.sig !== replSig) {
      repl.dataset.sig = replSig;
      repl.dataset.ranking = rank.join(',');
      repl.replaceChildren(...rank.map((n, j) => h('span', { class: j === 0 ? 'rank owner' : 'rank' }, n)));
      if (rank.length && !active.includes(rank[0])) {
        repl.append(h('span', { class: 'flag' }, ` placement says ${rank[0]}`));
      }
    }
    const select = row.querySelector('select');
    const targets = state.members.map((m) => m.name).filter((n) => !active.includes(n));
    if (select.dataset.sig !== targets.join(',')) {
      select.dataset.sig = targets.join(',');
      select.replaceChildren(...targets.map((n) => h('option', { value: n }, n)));
    }
  });
  for (const row of existing.values()) row.remove();
}

// ------------------------------------------------------------------ admin --

async function admin(path, what) {
  const status = $('#admin-status');
  status.className = '';
  status.textContent = `${what}…`;
  try {
    const headers = adminToken ? { authorization: `Bearer ${adminToken}` } : {};
    const res = await fetchWithTimeout(`${location.origin}${path}`, { method: 'POST', timeoutMs: 35000, headers });
    let body = await res.text();
    try { body = JSON.parse(body); } catch { /* keep the text */ }
    let msg = typeof body === 'object' && body !== null ? (body.error ?? JSON.stringify(body)) : body;
    if (res.status === 401) msg += ' (open the dashboard as /#token=ADMIN_TOKEN)';
    status.className = res.ok ? '' : 'error';
    status.textContent = `${what}: ${res.status} ${msg}`;
    status.dataset.status = String(res.status);
  } catch (e) {
    status.className = 'error';
    status.textContent = `${what}: ${e.message}`;
    status.dataset.status = 'error';
  }
  scheduleRefresh();
}

function drain(name) {
  return admin(`/admin/drain?node=${encodeURIComponent(name)}`, `drain ${name}`);
}

function move(key, to) {
  if (!to) return;
  return admin(`/admin/move?key=${encodeURIComponent(key)}&to=${encodeURIComponent(to)}`, `move ${key} to ${to}`);
}

// ----------------------------------------------------------------- events --

function describe(ev) {
  return Object.entries(ev)
    .filter(([k]) => !['type', 'node', 'time_ms'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ');
}

function onEvent(line) {
  if (state.seen.has(line)) return;
  state.seen.add(line);
  let ev;
  try { ev = JSON.parse(line); } catch { return; }
  if (ev.type === 'drain_started') state.draining.set(ev.member ?? ev.node, true);
  if (ev.type === 'drain_finished') state.draining.delete(ev.member ?? ev.node);
  // newest first, by the publisher's clock
  let i = 0;
  while (i < state.events.length && (state.events[i].time_ms ?? 0) > (ev.time_ms ?? 0)) i++;
  state.events.splice(i, 0, ev);
  const li = h('li', { class: 'event', dataset: { type: ev.type ?? '', node: ev.node ?? '' } },
    h('span', { class: 'time' }, fmtTime(ev.time_ms ?? Date.now())),
    h('span', { class: 'node mono' }, ev.node ?? '?'),
    h('span', { class: 'type' }, ev.type ?? '?'),
    h('span', { class: 'detail mono' }, describe(ev)));
  const list = $('#events');
  list.insertBefore(li, list.children[i] ?? null);
  if (state.events.length > MAX_EVENTS) {
    state.events.pop();
    list.lastElementChild?.remove();
  }
  if (state.seen.size > 4 * MAX_EVENTS) state.seen = new Set(state.events.map((e) => JSON.stringify(e)));
  scheduleRefresh();
}

function syncFeeds() {
  const want = new Set(state.members.map((m) => m.url));
  for (const [url, es] of state.feeds) {
    if (!want.has(url)) {
      es.close();
      state.feeds.delete(url);
      state.feedOpen.delete(url);
    }
  }
  for (const url of want) {
    // A feed the browser gave up on (e.g. refused before that node had
    // listed its members, whose origins alone it allows) is opened again.
    if (state.feeds.get(url)?.readyState === EventSource.CLOSED) state.feeds.delete(url);
    if (state.feeds.has(url)) continue;
    const es = new EventSource(`${url}/cluster/events`);
    es.onmessage = (e) => onEvent(e.data);
    es.onopen = () => { state.feedOpen.add(url); showFeedState(); };
    es.onerror = () => { state.feedOpen.delete(url); showFeedState(); };   // EventSource retries itself
    state.feeds.set(url, es);
  }
  showFeedState();
}

function showFeedState() {
  $('#feed-state').textContent = `events: ${state.feedOpen.size}/${state.feeds.size} nodes live`;
}

// ------------------------------------------------------------------- loop --

function scheduleRefresh() {
  if (state.refreshSoon) return;
  state.refreshSoon = setTimeout(() => { state.refreshSoon = null; refresh(); }, 250);
}

let running = false;
async function refresh() {
  if (running) { scheduleRefresh(); return; }
  running = true;
  try {
    const view = await clusterView();
    if (!view) {
      $('#summary').textContent = 'no node answers';
      for (const m of state.members) renderCard(m, null);
      return;
    }
    if (!state.served && state.source === location.origin) {
      state.served = view.node;
      $('#served-by').textContent = view.node;
      document.title = `skein · cluster · ${view.node}`;
    }
    const members = [...(view.members ?? [])].sort((a, b) => a.name.localeCompare(b.name));
    state.members = members;
    const nodes = $('#nodes');
    const names = new Set(members.map((m) => m.name));
    for (const [name, c] of state.cards) if (!names.has(name)) { c.remove(); state.cards.delete(name); }
    for (const m of members) nodes.append(card(m.name));   // keeps name order
    syncFeeds();

    const results = await Promise.all(members.map(async (m) => {
      const [met, cl] = await Promise.allSettled([
        fetchText(`${m.url}/metrics`, { timeoutMs: 2500 }),
        fetchJSON(`${m.url}/cluster`, { timeoutMs: 2500 }),
      ]);
      const scrape = met.status === 'fulfilled' ? { t: performance.now(), m: parseMetrics(met.value) } : null;
      return { m, scrape, view: cl.status === 'fulfilled' ? cl.value : null };
    }));
    let up = 0;
    for (const r of results) {
      renderCard(r.m, r.scrape);
      if (r.scrape) up++;
    }
    $('#summary').textContent = `${up}/${members.length} nodes answering`;
    await renderSessions(results.filter((r) => r.view).map((r) => [r.m.name, r.view]));
    document.body.dataset.ready = 'true';
  } finally {
    running = false;
  }
}

async function loop() {
  for (;;) {
    try { await refresh(); } catch (e) { console.warn('dashboard refresh failed', e); }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

$('#session-search').addEventListener('input', (e) => {
  state.filter = e.target.value.trim().toLowerCase();
  scheduleRefresh();
});

loop();
