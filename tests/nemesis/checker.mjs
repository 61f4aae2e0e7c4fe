// The nemesis checker: turns what the clients saw, the final reads and the
// nodes' stores into anomalies, each {cls, session, detail}. Classes:
//
//   LOST        a counter's final read is below a value a client saw
//               (an acknowledged add is gone)
//   DUPLICATE   a final read above the adds ever sent
//   INEXACT     every add of a writer acknowledged, yet the counter differs
//               from the number of adds it sent (exactly-once broken)
//   DIVERGENT   two nodes answer different values for one counter after healing
//   UNAVAILABLE a counter could not be read after healing
//   FORK        two clients saw different frames under one seq of a session
//               (two activations released outputs for the same seq)
//   ORDER       a client saw seqs out of order, or a counter value not +1
//   GAP         a chat client missed a broadcast seq between two it saw, with
//               no reset frame in between
//   SPLIT_BRAIN two nodes' journals diverge at a journal seq and the losing
//               tail is longer than every client's window together could
//               leave unreleased: an old activation kept acknowledging
//   EPOCH_ORDER a node's journal has an epoch decreasing with journal seq
//   CONVERGENCE after healing, /cluster did not agree on every node in 15 s
//
// Indeterminate (not anomalies): adds and says sent but never acknowledged
// (counter writers send message ids and re-send them until acknowledged, so
// for them this is a liveness finding: the schedule reports them as stalled).

import { forkProblems } from '../cluster/procs.mjs';

export function checkCounters({ writers, watchers, reads }) {
  const out = [];
  let indeterminate = 0;
  for (const v of forkProblems([...writers, ...watchers])) out.push({ cls: 'FORK', session: `counter/${v.split(':')[0]}`, detail: v });
  for (const c of [...writers, ...watchers])
    for (const v of c.violations)
      if (!/gave up/.test(v)) out.push({ cls: 'ORDER', session: `counter/${c.id}`, detail: `${c.label} ${v}` });
  for (const w of writers) {
    const session = `counter/${w.id}`;
    const seen = [...writers, ...watchers].filter((c) => c.id === w.id).flatMap((c) => c.seen.map(([seq, value]) => ({ seq, value, by: c.label })));
    const top = seen.reduce((a, b) => (b.value > (a?.value ?? -Infinity) ? b : a), null);
    // Acknowledged: the highest value any client saw, and at least every add
    // whose {"ack":N} the writer got (writers send ids and re-send after
    // reconnects, so an add acknowledged is an add applied).
    const ackedByIds = (w.initialValue ?? 0) + w.acked;
    const acked = Math.max(top ? top.value : 0, ackedByIds);
    indeterminate += w.inflight;
    const r = reads.get(w.id) ?? [];
    const ok = r.filter((x) => x.value !== undefined);
    if (!ok.length) {
      out.push({ cls: 'UNAVAILABLE', session, detail: `no node answered a read: ${r.map((x) => `${x.node}: ${x.error}`).join('; ')}` });
      continue;
    }
    const values = new Set(ok.map((x) => x.value));
    if (values.size > 1) out.push({ cls: 'DIVERGENT', session, detail: ok.map((x) => `${x.node}=${x.value}`).join(' ') });
    const all = ok.map((x) => `${x.node}=${x.value}`).join(' ');
    const low = ok.filter((x) => x.value < acked);
    if (low.length) {
      const worst = Math.min(...low.map((x) => x.value));
      const how = top && top.value >= ackedByIds ? `seq ${top.seq} seen by ${top.by}` : `${w.acked} acks to ${w.label}`;
      out.push({ cls: 'LOST', session, detail: `acknowledged ${acked} (${how}), sent ${w.sent}; reads ${all}: up to ${acked - worst} acknowledged adds lost` });
    }
    if (ok.some((x) => x.value > w.sent)) out.push({ cls: 'DUPLICATE', session, detail: `${w.sent} adds sent; reads ${all}` });
    // Every add acknowledged: the counter must equal the distinct adds sent.
    else if (w.inflight === 0 && values.size === 1 && ok[0].value - (w.initialValue ?? 0) !== w.sent)
      out.push({ cls: 'INEXACT', session, detail: `${w.sent} adds sent, all acknowledged; reads ${all}` });
  }
  return { anomalies: out, indeterminate };
}

export function checkChat(conns) {
  const out = [];
  let indeterminate = 0;
  const rooms = new Map();
  for (const c of conns) {
    indeterminate += Math.max(0, c.sent - c.echoed);
    if (!rooms.has(c.room)) rooms.set(c.room, []);
    rooms.get(c.room).push(c);
    let prev = 0;
    for (const [seq, data, conn] of c.frames) {
      if (!(seq > prev)) out.push({ cls: 'ORDER', session: `chat/${c.room}`, detail: `${c.label} conn#${conn}: seq ${seq} after ${prev} (${JSON.stringify(data)})` });
      prev = Math.max(prev, seq);
    }
  }
  for (const [room, cs] of rooms) {
    const session = `chat/${room}`;
    const bySeq = new Map();  // seq -> {key, by}
    const said = new Set();
    let forks = 0;
    for (const c of cs)
      for (const [seq, data] of c.frames) {
        if (data?.type === 'reset') continue;
        if (data?.type === 'said') said.add(seq);
        const key = JSON.stringify(data);
        const p = bySeq.get(seq);
        if (!p) bySeq.set(seq, { key, by: c.label });
        else if (p.key !== key && forks++ < 20) out.push({ cls: 'FORK', session, detail: `seq ${seq}: ${p.by} saw ${p.key.slice(0, 120)}, ${c.label} saw ${key.slice(0, 120)}` });
      }
    for (const c of cs) {
      const mine = new Set(c.frames.map(([s]) => s));
      const seqs = c.frames.map(([s]) => s);
      if (!seqs.length) continue;
      const first = Math.min(...seqs);
      const last = Math.max(...seqs);
      const lastReset = c.resets.length ? Math.max(...c.resets) : 0;
      const missing = [...said].filter((s) => s > first && s < last && s > lastReset && !mine.has(s)).sort((a, b) => a - b);
      if (missing.length) out.push({ cls: 'GAP', session, detail: `${c.label} missed ${missing.length} broadcast seqs between ${first} and ${last}: ${missing.slice(0, 10).join(',')}${missing.length > 10 ? ',...' : ''}` });
    }
  }
  return { anomalies: out, indeterminate };
}

/**
 * stores: [{node, sessions: {key: journal_records [{journal_seq, epoch, client, input, payload}]}}];
 * windowOf(key): how many inputs the clients of `key` may have had unreleased at once.
 */
export function checkJournals(stores, windowOf) {
  const out = [];
  const keys = new Set(stores.flatMap((s) => Object.keys(s.sessions)));
  for (const key of keys) {
    const chains = stores.filter((s) => s.sessions[key]).map((s) => ({ node: s.node, recs: s.sessions[key] }));
    for (const { node, recs } of chains) {
      for (let i = 1; i < recs.length; i++)
        if (recs[i].epoch < recs[i - 1].epoch) {
          out.push({ cls: 'EPOCH_ORDER', session: key, detail: `${node}: journal ${recs[i - 1].journal_seq} epoch ${recs[i - 1].epoch}, then ${recs[i].journal_seq} epoch ${recs[i].epoch}` });
          break;
        }
    }
    // Pairwise: first journal seq where two nodes disagree.
    for (let a = 0; a < chains.length; a++)
      for (let b = a + 1; b < chains.length; b++) {
        const A = new Map(chains[a].recs.map((r) => [r.journal_seq, r]));
        const div = chains[b].recs.find((r) => A.has(r.journal_seq) && !sameEntry(A.get(r.journal_seq), r));
        if (!div) continue;
        const ra = A.get(div.journal_seq);
        const [lo, hi] = ra.epoch < div.epoch ? [chains[a], chains[b]] : [chains[b], chains[a]];
        const loEpoch = Math.min(ra.epoch, div.epoch);
        const hiEpoch = Math.max(ra.epoch, div.epoch);
        // The losing chain's entries from the divergence on, written before
        // the winning epoch: only client messages count against the window
        // (opens and closes are journaled too but acknowledge nothing).
        const tail = lo.recs.filter((r) => r.journal_seq >= div.journal_seq && r.epoch < hiEpoch);
        const tailMessages = tail.filter((r) => r.input === 'message').length;
        const tailEpochs = [...new Set(tail.map((r) => r.epoch))];
        const hiTail = hi.recs.filter((r) => r.journal_seq >= div.journal_seq);
        const detail = `journals diverge at journal seq ${div.journal_seq}: ${lo.node} holds ${tail.length} entries `
          + `(${tail[0]?.journal_seq}..${tail.at(-1)?.journal_seq}, epochs ${tailEpochs.join(',')}), `
          + `${hi.node} holds ${hiTail.length} (${hiTail[0]?.journal_seq}..${hiTail.at(-1)?.journal_seq}, epochs ${[...new Set(hiTail.map((r) => r.epoch))].join(',')}); `
          + `epoch ${loEpoch} vs ${hiEpoch} at that seq; ${tailMessages} client messages in the losing tail`;
        if (tailMessages > windowOf(key)) out.push({ cls: 'SPLIT_BRAIN', session: key, detail });
      }
  }
  return out;
}

function sameEntry(x, y) {
  return x.epoch === y.epoch && x.client === y.client && JSON.stringify(x.payload) === JSON.stringify(y.payload);
}

/** Anomalies grouped by class: {cls: [anomaly...]}. */
export function byClass(anomalies) {
  const m = {};
  for (const a of anomalies) (m[a.cls] ??= []).push(a);
  return m;
}
