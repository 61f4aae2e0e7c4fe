// Helpers shared by the dashboard and the chat page (plain ES module, no
// dependencies; everything here runs in the browser).

/** fetch with a time bound; rejects on HTTP status >= 400 unless allowStatus. */
export async function fetchWithTimeout(url, { method = 'GET', timeoutMs = 3000, headers = {} } = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    return await fetch(url, { method, headers, signal: ctl.signal, cache: 'no-store' });
  } finally {
    clearTimeout(timer);
  }
}

export async function fetchJSON(url, opts) {
  const res = await fetchWithTimeout(url, opts);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

export async function fetchText(url, opts) {
  const res = await fetchWithTimeout(url, opts);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
}

/**
 * Parses the Prometheus text format (0.0.4) into
 * { value(name, labels = {}) -> number | undefined, samples: [{name, labels, value}] }.
 */
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) {
      for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
      }
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  const value = (name, want = {}) => {
    const s = samples.find((x) => x.name === name
      && Object.entries(want).every(([k, v]) => x.labels[k] === v));
    return s ? s.value : undefined;
  };
  return { samples, value };
}

/** Creates an element: h('td', {class: 'x', dataset: {key: 'k'}}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function fmtBytes(n) {
  if (n === undefined || Number.isNaN(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function fmtRate(x) {
  if (x === undefined || Number.isNaN(x)) return '–';
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

export function fmtTime(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** 128 random bits as 32 hex digits. */
export function randomId() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** http://host:port -> ws://host:port (https -> wss); drops a trailing '/'. */
/**
 * The token the page was opened with as `#token=...` (dashboard: the admin
 * token; chat: a client JWT). Kept in sessionStorage under `key` and taken
 * out of the address bar, so it is not shown, bookmarked or sent anywhere
 * but where the page puts it (a fragment never reaches a server).
 */
export function pageToken(key) {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(key, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(key) ?? '';
}

export function wsBase(httpUrl) {
  return httpUrl.replace(/^http/, 'ws').replace(/\/$/, '');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
