// The observatory's records: parsing, replay, and the cluster-wide merge of the nodes' own
// records of spread. Pure: no DOM and no clock, so node's test runner imports it
// (tests/js/replay.test.js checks it against what the Python writes, tests/golden/).
//
// A record (docs/page.md, "Record format") is JSON lines: a header, every node's lines in time
// order ({t, node, kind, ...}), then each node's closing snapshot ("end": true). A replay
// applies the lines to one state per node exactly as node/ledger.py's `apply_line` does,
// and builds the shapes the node itself serves: `view(t)` is shaped like GET /observatory
// (the merge of node/genealogy.py), `cluster(t)` like GET /cluster (node/gather.py).
// So the page draws a replay with the very code that draws the live cluster.

import { VERSION_TICKS_PER_S, counterFrom } from "./common.js";
import { hopPeriod, idealDepth, median } from "./model.js";

export const NO_FAULTS = { drop: 0, duplicate: 0, delay_ms: 0, jitter_ms: 0, blocked: [] };
export const LINK_WINDOW_S = 10;
const MAX_UPDATES = 20;
const KEYFRAME_EVERY = 20000; // lines between saved states (a backward seek starts there)
const SAMPLES = 240; // points of the convergence curve over a whole record

// --- one node's state (node/ledger.py: empty_state, apply_line) ---------------------
export function emptyState() {
  return { up: false, movie: null, version: null, generation: null, origins: {}, peers: {}, faults: { ...NO_FAULTS } };
}
function cloneState(s) {
  const origins = {};
  for (const [o, e] of Object.entries(s.origins)) origins[o] = { ...e };
  return { ...s, origins, peers: { ...s.peers }, faults: { ...s.faults } };
}
export function applyLine(state, line) {
  const t = line.t;
  switch (line.kind) {
    case "snapshot":
      for (const k of ["up", "movie", "version", "generation"]) state[k] = line[k] ?? null;
      state.origins = {};
      for (const [o, e] of Object.entries(line.origins || {})) state.origins[o] = { ...e };
      state.peers = { ...(line.peers || {}) };
      state.faults = { ...NO_FAULTS, ...(line.faults || {}) };
      break;
    case "node_started":
      Object.assign(state, { up: true, movie: null, version: null, origins: {}, peers: {}, generation: line.generation ?? null });
      break;
    case "node_stopped":
      Object.assign(state, { up: false, origins: {}, peers: {} });
      break;
    case "movie_changed":
      state.movie = line.movie;
      state.version = line.version;
      state.origins[line.node] = { version: line.version, movie: line.movie, uuid: line.uuid, learned_at: t,
        sent_at: t, sender: null, hops: 0, via: "local" };
      break;
    case "update_applied":
      state.origins[line.origin] = { version: line.version, movie: line.movie, uuid: line.uuid, learned_at: t,
        sent_at: line.delay_s === null || line.delay_s === undefined ? null : t - line.delay_s,
        sender: line.sender ?? null, hops: line.hops ?? null, via: line.via ?? null };
      break;
    case "origin_reaped":
      delete state.origins[line.origin];
      break;
    case "peer_state":
      if (line.new === "reaped" || line.new === "forgotten") delete state.peers[line.peer];
      else state.peers[line.peer] = line.new;
      break;
    case "faults_set": {
      const f = {};
      for (const [k, v] of Object.entries(NO_FAULTS)) f[k] = line[k] ?? v;
      state.faults = f;
      break;
    }
    default:
      break;
  }
}

// --- parsing -------------------------------------------------------------------------
export function parse(text) {
  const lines = [];
  const ends = [];
  let header = null;
  let bad = 0;
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    let x;
    try { x = JSON.parse(raw); } catch { bad += 1; continue; }
    if (x && x.kind === "header") { header = header || x; continue; }
    if (!x || typeof x.t !== "number" || typeof x.node !== "string" || typeof x.kind !== "string") { bad += 1; continue; }
    (x.end ? ends : lines).push(x);
  }
  if (!lines.length && !ends.length) throw new Error("this is not a Gossip Lab record: no lines with t, node and kind");
  lines.sort((a, b) => a.t - b.t); // stable: a node's own order is kept where times tie
  return { header: header || {}, lines, ends, bad };
}

// Sorts ids with their numbers in order (10.0.0.2 before 10.0.0.10).
export const byId = (a, b) => a.localeCompare(b, "en", { numeric: true });

// Has the cluster converged? The JavaScript twin of node/core/invariants.py's
// `views_converged`, checked against tests/golden/converged.json: views are
// {node: {origin: version}, or null for a node not in view}; the judged nodes are `expected`
// (else every node of views); each must hold each judged node's own version or a newer one;
// nothing to judge is not converged.
export function converged(views, expected) {
  const judged = expected || Object.keys(views);
  const truth = [];
  for (const node of judged) {
    const view = views[node];
    if (view && view[node] !== undefined) truth.push([node, view[node]]);
  }
  return judged.length > 0 && judged.every((node) => {
    const view = views[node];
    return !!view && truth.every(([o, v]) => o === node || (view[o] !== undefined && view[o] >= v));
  });
}

// Fraction of (node, origin) pairs where the node knows the newest version any node has.
export function convergence(states) {
  const newest = {};
  const up = [];
  for (const s of states.values()) {
    if (!s.up) continue;
    up.push(s);
    for (const [o, e] of Object.entries(s.origins)) if (!(o in newest) || e.version > newest[o]) newest[o] = e.version;
  }
  const origins = Object.keys(newest);
  const total = up.length * origins.length;
  if (!total) return { frac: up.length ? 1 : 0, lagging: 0 };
  let ok = 0;
  for (const s of up) for (const o of origins) if (s.origins[o] && s.origins[o].version >= newest[o]) ok += 1;
  return { frac: ok / total, lagging: total - ok };
}

export class Replay {
  constructor(rec, name) {
    this.name = name || "record";
    this.header = rec.header;
    this.lines = rec.lines;
    this.ends = rec.ends;
    this.bad = rec.bad;
    const ids = new Set(rec.header.nodes || []);
    for (const l of this.lines) ids.add(l.node);
    for (const l of this.ends) ids.add(l.node);
    this.ids = [...ids].sort(byId);
    const times = this.lines.map((l) => l.t);
    this.t0 = Math.min(rec.header.since ?? Infinity, times.length ? times[0] : Infinity);
    if (!isFinite(this.t0)) this.t0 = this.ends[0].t;
    this.t1 = Math.max(rec.header.until ?? -Infinity, times.length ? times[times.length - 1] : -Infinity,
      ...this.ends.map((l) => l.t));
    this.config = rec.header.config || {};
    this.source = rec.header.source || "unknown";
    this.buildIndex();
    this.buildStates();
    this.cursor = { i: 0, states: this.freshStates() };
  }

  freshStates() { return new Map(this.ids.map((id) => [id, emptyState()])); }

  // uuid -> {origin, version, movie, sentAt, byNode: Map(node -> arrival)}: every copy of
  // every update the record saw, with times, so any moment's genealogy is a filter.
  buildIndex() {
    const index = new Map();
    const get = (l) => {
      let u = index.get(l.uuid);
      if (!u) {
        u = { uuid: l.uuid, origin: l.kind === "movie_changed" ? l.node : l.origin, version: l.version, movie: null, sentAt: null, delays: [], byNode: new Map() };
        index.set(l.uuid, u);
      }
      let a = u.byNode.get(l.node);
      if (!a) { a = { t: null, sender: null, hops: null, via: null, delay_s: null, ttl: null, dups: [], stale: [], ttlDrop: null }; u.byNode.set(l.node, a); }
      return [u, a];
    };
    for (const l of this.lines) {
      if (!l.uuid) continue;
      if (l.kind === "movie_changed") {
        const [u, a] = get(l);
        Object.assign(a, { t: l.t, hops: 0, via: "local" });
        u.movie = l.movie;
        u.sentAt = l.t;
      } else if (l.kind === "update_applied") {
        const [u, a] = get(l);
        if (a.t === null) Object.assign(a, { t: l.t, sender: l.sender, hops: l.hops, via: l.via, delay_s: l.delay_s, ttl: l.ttl });
        u.movie = u.movie || l.movie;
        if (l.delay_s !== null && l.delay_s !== undefined) u.delays.push(l.t - l.delay_s);
      } else if (l.kind === "message_deduplicated") {
        get(l)[1].dups.push([l.t, l.sender]);
      } else if (l.kind === "stale_message") {
        get(l)[1].stale.push([l.t, l.sender]);
      } else if (l.kind === "ttl_drop") {
        get(l)[1].ttlDrop = l.t;
      }
    }
    for (const u of index.values()) {
      if (u.sentAt === null) u.sentAt = median(u.delays);
      if (u.sentAt === null) u.sentAt = Math.min(...[...u.byNode.values()].map((a) => a.t ?? Infinity));
    }
    this.index = index;
    this.updateList = [...index.values()].filter((u) => isFinite(u.sentAt)).sort((a, b) => a.sentAt - b.sentAt);
  }

  // One pass over the record: keyframes for seeking, the convergence curve, fault spans.
  buildStates() {
    const states = this.freshStates();
    this.keyframes = [{ i: 0, t: -Infinity, states: this.freshStates() }];
    this.samples = [];
    this.faultSpans = new Map(this.ids.map((id) => [id, []]));
    const step = (this.t1 - this.t0) / SAMPLES || 1;
    let next = this.t0;
    const sample = (t) => { this.samples.push({ t, ...convergence(states) }); };
    const lastFaults = new Map();
    const noteFaults = (node, t, f) => {
      const spans = this.faultSpans.get(node);
      const open = spans.length ? spans[spans.length - 1] : null;
      const key = JSON.stringify(f);
      if (lastFaults.get(node) === key) return;
      lastFaults.set(node, key);
      if (open && open.to === null) open.to = t;
      if (faultsActive(f)) spans.push({ from: t, to: null, faults: f });
    };
    this.lines.forEach((l, i) => {
      while (l.t > next && next <= this.t1) { sample(next); next += step; }
      const s = states.get(l.node);
      applyLine(s, l);
      if (l.kind === "snapshot" || l.kind === "faults_set") noteFaults(l.node, l.t, s.faults);
      if ((i + 1) % KEYFRAME_EVERY === 0) {
        this.keyframes.push({ i: i + 1, t: l.t, states: new Map([...states].map(([k, v]) => [k, cloneState(v)])) });
      }
    });
    while (next <= this.t1) { sample(next); next += step; }
    sample(this.t1);
    this.final = states;
  }

  // The states at time t (lines with l.t <= t applied).
  seek(t) {
    let c = this.cursor;
    const target = this.upperBound(t);
    if (target < c.i) {
      let k = this.keyframes[0];
      for (const kf of this.keyframes) if (kf.i <= target) k = kf;
      c = this.cursor = { i: k.i, states: new Map([...k.states].map(([id, s]) => [id, cloneState(s)])) };
    }
    for (; c.i < target; c.i += 1) applyLine(c.states.get(this.lines[c.i].node), this.lines[c.i]);
    return c.states;
  }
  // Index of the first line after t.
  upperBound(t) {
    let lo = 0, hi = this.lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lines[mid].t <= t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  nextLine(t) { return this.lines[this.upperBound(t)] || null; }
  prevLine(t) {
    const i = this.upperBound(t) - 1;
    if (i < 0) return null;
    // the line before the ones at exactly t
    let j = i;
    while (j >= 0 && this.lines[j].t >= t) j -= 1;
    return j >= 0 ? this.lines[j] : null;
  }
  lineAt(t) { const i = this.upperBound(t) - 1; return i >= 0 ? this.lines[i] : null; }

  // --- the shapes the node serves ----------------------------------------------------
  // Like GET /observatory at time t; `extra` are update uuids to include however old.
  view(t, extra = []) {
    const states = this.seek(t);
    const nodes = this.ids.map((id) => {
      const s = states.get(id);
      const peers = {};
      for (const [p, st] of Object.entries(s.peers)) peers[p] = { state: st, last_heard: null, failures: null };
      return { id, health: s.up ? "alive" : "down", reachable: s.up, error: s.up ? null : "not running at this time",
        movie: s.movie, version: s.version, generation: s.generation, origins: s.origins, peers, faults: s.faults,
        now: t };
    });
    const up = nodes.filter((n) => n.reachable);
    const fanout = Number(this.config.fanout) || 1;
    const updates = this.updatesAt(t, states, fanout, extra);
    const drops = up.map((n) => Number(n.faults.drop) || 0);
    return {
      now: t, replay: true, config: this.config, nodes, updates, edges: this.edgesAt(t),
      model: { n: up.length, fanout, period_s: hopPeriod(updates),
        loss: drops.length ? drops.reduce((a, b) => a + b, 0) / drops.length : 0 },
    };
  }

  updatesAt(t, states, fanout, extra) {
    const answered = this.ids.filter((id) => states.get(id).up);
    const n = answered.length;
    const chosen = [];
    for (let i = this.updateList.length - 1; i >= 0 && chosen.length < MAX_UPDATES; i -= 1) {
      if (this.updateList[i].sentAt <= t) chosen.push(this.updateList[i]);
    }
    for (const uuid of extra) {
      const u = this.index.get(uuid);
      if (u && u.sentAt <= t && !chosen.includes(u)) chosen.push(u);
    }
    return chosen.map((u) => {
      const nodes = {};
      const pending = [];
      const overtaken = [];
      let copies = 0;
      for (const id of answered) {
        const a = u.byNode.get(id);
        const first = a && a.t !== null && a.t <= t;
        if (a) {
          const copiesNow = [...a.dups, ...a.stale].filter(([x]) => x <= t);
          const dups = a.dups.filter(([x]) => x <= t).length;
          const stale = copiesNow.length - dups;
          if (first || dups || stale) {
            const senders = {};
            for (const [, from] of copiesNow) if (from) senders[from] = (senders[from] || 0) + 1;
            copies += dups + stale + (first && a.via !== "local" ? 1 : 0);
            nodes[id] = { parent: first ? a.sender : null, hops: first ? a.hops : null, t: first ? a.t : null,
              delay_s: first ? a.t - u.sentAt : null, via: first ? a.via : null, dups, stale, senders,
              ttl_drop: a.ttlDrop !== null && a.ttlDrop <= t };
            if (first) continue;
          }
        }
        const known = states.get(id).origins[u.origin];
        if (known && known.version > u.version) overtaken.push(id);
        else if (!(known && known.version === u.version)) pending.push(id);
      }
      const reached = Object.values(nodes).filter((v) => v.t !== null);
      const done = !pending.length && reached.length;
      return {
        uuid: u.uuid, origin: u.origin, version: u.version, movie: u.movie, sent_at: u.sentAt, nodes,
        reached: reached.length, of: n, pending: pending.sort(byId), overtaken: overtaken.sort(byId),
        depth: Math.max(0, ...reached.map((v) => v.hops || 0)), copies,
        redundant: copies - reached.filter((v) => v.via !== "local").length,
        ideal_copies: Math.max(n - 1, 0), ideal_depth: idealDepth(n, fanout),
        spread_s: done ? Math.max(...reached.map((v) => v.delay_s)) : null,
      };
    }).sort((a, b) => b.sent_at - a.sent_at);
  }

  edgesAt(t) {
    const counts = new Map();
    for (let i = this.upperBound(t) - 1; i >= 0 && this.lines[i].t > t - LINK_WINDOW_S; i -= 1) {
      const l = this.lines[i];
      if (!l.sender || !(l.kind === "update_applied" || l.kind === "message_deduplicated" || l.kind === "stale_message")) continue;
      const key = `${l.sender}\n${l.node}`;
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    return [...counts].map(([key, n]) => {
      const [from, to] = key.split("\n");
      return { from, to, messages: n, rate: n / LINK_WINDOW_S };
    });
  }

  // Like GET /cluster at time t: what the matrix draws.
  cluster(t) {
    const states = this.seek(t);
    const newest = {};
    for (const id of this.ids) {
      const s = states.get(id);
      if (!s.up) continue;
      for (const [o, e] of Object.entries(s.origins)) {
        if (!newest[o] || e.version > newest[o].version) newest[o] = { version: e.version, movie: e.movie, sent_at: e.sent_at };
      }
    }
    for (const [o, top] of Object.entries(newest)) {
      top.counter = counterFrom(states.get(o) && states.get(o).generation, top.version);
    }
    const origins = Object.keys(newest).sort(byId);
    const matrix = {};
    let lagging = 0;
    const nodes = [];
    for (const id of this.ids) {
      const s = states.get(id);
      nodes.push({ id, self: false, health: s.up ? "alive" : "dead", reachable: s.up,
        error: s.up ? null : "not running at this time of the record", rtt_ms: null,
        movie: s.movie, version: s.version, generation: s.generation });
      if (!s.up) continue;
      const row = matrix[id] = {};
      for (const o of origins) {
        const mine = s.origins[o];
        if (!mine) { lagging += 1; continue; }
        const behind = newest[o].version - mine.version;
        if (behind > 0) lagging += 1;
        row[o] = { ...mine, behind, older_life: behind >= VERSION_TICKS_PER_S };
      }
    }
    const reachable = nodes.filter((x) => x.reachable).length;
    // as GET /cluster: the nodes running at t are the ones judged
    const views = {};
    for (const id of this.ids) {
      const s = states.get(id);
      if (s.up) views[id] = Object.fromEntries(Object.entries(s.origins).map(([o, e]) => [o, e.version]));
    }
    return { replay: true, self: null, now: t, nodes, origins, newest, matrix, reachable,
      unreachable: nodes.length - reachable, lagging, converged: converged(views),
      latest: null, updates: [], age_s: 0, elapsed_ms: 0 };
  }

  // Does replaying every line end where each node's closing snapshot says it ended?
  endCheck() {
    const agree = [];
    const differ = [];
    for (const end of this.ends) {
      const s = this.final.get(end.node);
      const mine = Object.fromEntries(Object.entries(s.origins).map(([o, e]) => [o, e.version]));
      const theirs = Object.fromEntries(Object.entries(end.origins || {}).map(([o, e]) => [o, e.version]));
      const keys = new Set([...Object.keys(mine), ...Object.keys(theirs)]);
      const diff = [...keys].filter((k) => mine[k] !== theirs[k]);
      if (diff.length || s.movie !== end.movie) differ.push({ node: end.node, origins: diff });
      else agree.push(end.node);
    }
    return { agree, differ, checked: this.ends.length };
  }

  // The states at the end of the record, as {node: {origin: version}} (the tests compare).
  finalVersions() {
    const out = {};
    for (const [id, s] of this.final) {
      if (s.up) out[id] = Object.fromEntries(Object.entries(s.origins).map(([o, e]) => [o, e.version]));
    }
    return out;
  }
}

export function faultsActive(f) {
  return !!(f && (f.drop || f.duplicate || f.delay_ms || f.jitter_ms || (f.blocked && f.blocked.length)));
}

export function load(text, name) { return new Replay(parse(text), name); }
