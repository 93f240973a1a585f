// The observatory's state and its one input, the view: the cluster live (the node's
// GET observatory, polled by obs.js) or replayed (a `Replay` at the replay's time), in
// one shape that every drawing takes. Owns `O` (what is shown, the mode, the replay's
// clock) and the facts derived from a view: the update shown, the partition's sides, the
// verdict against the model, the colours of favourites. Draws nothing itself.

import { $, counterFrom, fmtDelay, h, plural } from "./common.js";
import { serfFraction, serfTime } from "./model.js";
import { byId, faultsActive } from "./replay.js";

const LIVE_WINDOW_S = 180; // the live timeline's width
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#8cd17d"];

export const O = {
  mode: "live",
  live: null, // the last GET observatory
  localId: null,
  tokenRequired: false,
  follow: "", // the uuid of the update shown; "" follows the latest
  race: null, // {a, b}: two updates compared
  inspect: null, // the node shown in the inspector
  diffWith: "",
  groups: new Map(), // node -> "A" | "B": the cut to make
  cutMode: false,
  cutLine: null,
  conv: [], // live samples {t, frac, lagging}
  seen: new Map(), // uuid -> update, live, while the page is open
  recordingSince: null,
  replay: null,
  rt: 0,
  playing: false,
  speed: 1,
  fastUntil: 0,
  lastRender: 0,
};

// --- colours, sizes, small helpers of the drawings --------------------------------------
// Favourites shown now get distinct colours (in title order); any other, one by hash.
let colours = new Map();
export function assignColours(v) {
  const movies = [...new Set(v.nodes.filter((n) => n.reachable && n.movie).map((n) => n.movie))].sort();
  colours = new Map(movies.map((m, i) => [m, PALETTE[i % PALETTE.length]]));
}
export function colourOf(movie) {
  if (!movie) return "#9aa5b1";
  if (colours.has(movie)) return colours.get(movie);
  let x = 0;
  for (const ch of movie) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[x % PALETTE.length];
}
export function niceStep(span, ticks) {
  const raw = span / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
export function token() {
  const t = $("obs-token").value.trim() || ($("pick-token") ? $("pick-token").value.trim() : "");
  return t ? { Authorization: `Bearer ${t}` } : {};
}
// An update's label: its number in its origin's life ("#12"), else its version ("v…").
export const counterOf = (v, origin, version) => {
  const n = v.nodes.find((x) => x.id === origin);
  const c = counterFrom(n && n.generation, version);
  return c === null ? `v${version}` : `#${c}`;
};

// --- the view: live or replayed ------------------------------------------------------
export function view() {
  if (O.mode === "replay" && O.replay) {
    const rp = O.replay;
    const extra = O.race ? [O.race.a, O.race.b] : [];
    if (O.follow) extra.push(O.follow);
    const v = rp.view(O.rt, extra);
    v.window = [rp.t0, rp.t1];
    v.conv = rp.samples;
    v.spans = rp.faultSpans;
    v.timeline = rp.updateList.map((u) => ({ uuid: u.uuid, origin: u.origin, movie: u.movie, sent_at: u.sentAt }));
    return v;
  }
  const v = O.live;
  if (!v) return null;
  const spans = new Map();
  for (const n of v.nodes) spans.set(n.id, liveSpans(n, v.now));
  // the live timeline spans what the page knows: from the oldest update or fault it has
  // seen (at most LIVE_WINDOW_S back), and at least 20 s
  let from = v.now - 20;
  for (const u of O.seen.values()) if (u.sent_at) from = Math.min(from, u.sent_at - 2);
  for (const sp of spans.values()) for (const x of sp) from = Math.min(from, x.from - 2);
  if (O.conv.length) from = Math.min(from, O.conv[0].t);
  return { ...v, replay: false, window: [Math.max(from, v.now - LIVE_WINDOW_S), v.now + 1], conv: O.conv, spans,
    timeline: [...O.seen.values()].map((u) => ({ uuid: u.uuid, origin: u.origin, movie: u.movie, sent_at: u.sent_at })) };
}
// Periods with faults on, from a node's recent fault changes and its faults now.
function liveSpans(n, now) {
  const out = [];
  for (const e of n.fault_log || []) {
    if (out.length && out[out.length - 1].to === null) out[out.length - 1].to = e.t;
    if (faultsActive(e)) out.push({ from: e.t, to: null, faults: e });
  }
  if (!(n.fault_log || []).length && faultsActive(n.faults)) out.push({ from: now - LIVE_WINDOW_S, to: null, faults: n.faults });
  return out;
}
export function findUpdate(v, uuid) {
  return v.updates.find((u) => u.uuid === uuid) || (O.mode === "live" ? O.seen.get(uuid) : null) || null;
}
export function selected(v) {
  if (O.follow) return findUpdate(v, O.follow);
  return v.updates[0] || null;
}

// --- the cluster's sides: who can still talk to whom ----------------------------------
export function sides(v) {
  const nodes = v.nodes;
  const blocked = new Map(nodes.map((n) => [n.id, new Set((n.faults && n.faults.blocked) || [])]));
  const parent = new Map(nodes.map((n) => [n.id, n.id]));
  const find = (x) => { while (parent.get(x) !== x) x = parent.get(x); return x; };
  for (let i = 0; i < nodes.length; i += 1) {
    for (let j = i + 1; j < nodes.length; j += 1) {
      const a = nodes[i].id, b = nodes[j].id;
      if (!blocked.get(a).has(b) && !blocked.get(b).has(a)) parent.set(find(a), find(b));
    }
  }
  const groups = new Map();
  for (const n of nodes) {
    const r = find(n.id);
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r).push(n.id);
  }
  return [...groups.values()].map((g) => g.sort(byId)).sort((a, b) => b.length - a.length || byId(a[0], b[0]));
}

// Why a node has not got an update yet, in words.
function whyLagging(v, u, id, comps) {
  const n = v.nodes.find((x) => x.id === id);
  if (!n || !n.reachable) return "not answering";
  const origin = v.nodes.find((x) => x.id === u.origin);
  const blocks = (a, b) => a && a.faults && (a.faults.blocked || []).includes(b);
  if (blocks(n, u.origin) || blocks(origin, id)) return "cut off from the origin";
  const side = comps.findIndex((g) => g.includes(id));
  if (side !== comps.findIndex((g) => g.includes(u.origin))) return "on the other side of a partition";
  if (n.faults && n.faults.drop) return `drops ${Math.round(n.faults.drop * 100)} % of its messages`;
  return "waiting for anti-entropy";
}

// The measured spread against the model, in words; `behind` names the nodes that lag.
export function verdict(v, u) {
  const m = v.model;
  const n = u.of;
  const period = m.period_s || (v.config && v.config.push_interval_s) || 0.01;
  const t99 = serfTime(0.99, n, m.fanout, period, m.loss);
  const elapsed = v.now - u.sent_at;
  const sync = (v.config && v.config.sync_s) || 1;
  const grace = t99 + 2 * sync;
  const modelNow = serfFraction(Math.max(elapsed, 0), n, m.fanout, period, m.loss);
  const comps = sides(v);
  if (!u.pending.length) {
    const took = u.spread_s ?? 0;
    const over = u.overtaken.length ? ` (${plural(u.overtaken.length, "node")} went straight to a newer version)` : "";
    if (took <= Math.max(1.5 * t99, t99 + 0.005)) {
      return { kind: "ok", text: `On the model: every node has it, the last after ${fmtDelay(took)}; the model expects 99 % by ${fmtDelay(t99)}${over}.` };
    }
    return { kind: "slow", text: `Behind the model, but complete: the last node had it after ${fmtDelay(took)}, where the model expects 99 % by ${fmtDelay(t99)}${over}.` };
  }
  const frac = u.reached / Math.max(u.of, 1);
  if (elapsed > grace && frac < modelNow - 0.2) {
    const why = u.pending.map((id) => ({ id, why: whyLagging(v, u, id, comps) }));
    return { kind: "behind", why,
      text: `Well behind the model: ${Math.round(frac * 100)} % of the nodes know it ${fmtDelay(elapsed)} after the send; the model expected 99 % by ${fmtDelay(t99)}. Lagging: ` };
  }
  return { kind: "busy", text: `Spreading: ${u.reached} of ${u.of} nodes after ${fmtDelay(Math.max(elapsed, 0))} (the model: ${Math.round(modelNow * 100)} % by now).` };
}

// Drawings are sized in CSS pixels (the viewBox follows the element's width), so text
// keeps its size on a phone instead of shrinking with the picture.
export function sizeOf(svg, fallback) {
  const w = Math.round(svg.getBoundingClientRect().width);
  return w > 100 ? w : fallback;
}
// Shows a node in the inspector, scrolled into sight.
export function inspect(id) {
  O.inspect = id;
  refresh(true);
  const box = $("inspector");
  if (box.getBoundingClientRect().top > window.innerHeight) box.scrollIntoView({ behavior: "smooth", block: "start" });
}

// Where a pointer event falls in an SVG's own coordinates.
export function svgPoint(svg, e) {
  const p = svg.createSVGPoint();
  p.x = e.clientX;
  p.y = e.clientY;
  return p.matrixTransform(svg.getScreenCTM().inverse());
}

// Fills a <select> (only when its options changed) and sets its value unless it has focus.
export function fillSelect(sel, options, value) {
  const want = JSON.stringify(options);
  if (sel.dataset.options !== want) {
    sel.replaceChildren(...options.map(([v, t]) => h("option", { value: v, text: t })));
    sel.dataset.options = want;
  }
  if (document.activeElement !== sel) sel.value = value ?? "";
}

// Moves a replay's clock to t (within the record) and redraws.
export function seekTo(t) {
  const rp = O.replay;
  if (!rp) return;
  O.rt = Math.min(Math.max(t, rp.t0), rp.t1);
  refresh(true);
}

// --- the loop's hooks (obs.js sets them): a module redraws or polls through these ------
const loop = { render: () => {}, poll: () => {} };
export function setLoop(render, poll) { loop.render = render; loop.poll = poll; }
// Redraws the observatory (at most every RENDER_EVERY_MS unless `force`).
export const refresh = (force) => loop.render(force);
// Asks the node for its observatory in `ms` (or sooner if already due).
export const schedulePoll = (ms) => loop.poll(ms);
