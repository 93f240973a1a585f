// The observatory: the cluster drawn live or replayed, who told whom, the spread against
// the model, faults from the page, and record / replay.
//
// Live, it polls the node's `observatory` (every node's own records of first arrivals and
// copies, gathered and merged by the node: node/genealogy.py); replaying, it asks a
// `GossipReplay` (replay.js) for the same shape at the replay's time. Every drawing below
// takes that one shape (`view`), so a replay is drawn by the code that draws the live
// cluster. Faults go through the node's `observatory/faults`, which calls each node's own
// admin API with the token typed here. Text from the network goes in as textContent only.
"use strict";

(() => {
  const R = window.GossipReplay;
  const SVGNS = "http://www.w3.org/2000/svg";
  const POLL_MS = 1500;
  const FAST_POLL_MS = 400;
  const LIVE_WINDOW_S = 180; // the live timeline's width
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#8cd17d"];
  const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
  const RENDER_EVERY_MS = 120; // a playing replay redraws at most this often

  const O = {
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

  // --- helpers -------------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || ["title", "href", "scope", "role", "for", "colspan", "download"].includes(k)) el.setAttribute(k, v);
      else el[k] = v;
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") el.textContent = v;
      else el.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c) el.append(c);
    return el;
  }
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + "s"}`;
  const quote = (m) => (m === null || m === undefined ? "—" : `“${m}”`);
  function fmtDelay(x) {
    if (x === null || x === undefined || !isFinite(x)) return "—";
    const a = Math.abs(x);
    if (a === 0) return "0";
    if (a < 0.001) return `${(x * 1000).toFixed(2)} ms`;
    if (a < 1) return `${Math.round(x * 1000)} ms`;
    if (a < 60) return `${x.toFixed(a < 10 ? 2 : 1)} s`;
    return `${Math.floor(x / 60)} min ${Math.round(x % 60)} s`;
  }
  function fmtClock(t, ms = true) {
    if (!t) return "—";
    const d = new Date(t * 1000);
    const two = (n) => String(n).padStart(2, "0");
    const hms = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
    return ms ? `${hms}.${String(d.getMilliseconds()).padStart(3, "0")}` : hms;
  }
  // Nodes by display name (each node's /observatory/local carries its own), the address
  // in the title; a node without a name (an older node, a record without names) by a short
  // form of its id: ":7001" when all share a host, the host when all share a port.
  const names = new Map();
  function learnNames(nodes) {
    for (const n of nodes || []) if (typeof n.name === "string" && n.name) names.set(n.id, n.name);
  }
  const nameOf = (id) => (id ? names.get(id) || id : "?");
  function labeller(ids) {
    const cut = (id) => [id.slice(0, id.lastIndexOf(":")), id.slice(id.lastIndexOf(":") + 1)];
    const hosts = new Set(ids.map((id) => cut(id)[0]));
    const ports = new Set(ids.map((id) => cut(id)[1]));
    let short = (id) => id;
    if (ids.length > 1 && hosts.size === 1) short = (id) => `:${cut(id)[1]}`;
    else if (ids.length > 1 && ports.size === 1) short = (id) => cut(id)[0];
    return (id) => (id ? names.get(id) || short(id) : "?");
  }
  // Favourites shown now get distinct colours (in title order); any other, one by hash.
  let colours = new Map();
  function assignColours(v) {
    const movies = [...new Set(v.nodes.filter((n) => n.reachable && n.movie).map((n) => n.movie))].sort();
    colours = new Map(movies.map((m, i) => [m, PALETTE[i % PALETTE.length]]));
  }
  function colourOf(movie) {
    if (!movie) return "#9aa5b1";
    if (colours.has(movie)) return colours.get(movie);
    let x = 0;
    for (const ch of movie) x = (x * 31 + ch.codePointAt(0)) >>> 0;
    return PALETTE[x % PALETTE.length];
  }
  function niceStep(span, ticks) {
    const raw = span / ticks;
    const p = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  function token() {
    const t = $("obs-token").value.trim() || ($("pick-token") ? $("pick-token").value.trim() : "");
    return t ? { Authorization: `Bearer ${t}` } : {};
  }
  const counterOf = (v, origin, version) => {
    const n = v.nodes.find((x) => x.id === origin);
    const g = n && n.generation;
    const c = Number.isInteger(g) ? version - g : null;
    return c !== null && c >= 0 && c < 2 ** 20 ? `#${c}` : `v${version}`;
  };

  // --- the view: live or replayed ------------------------------------------------------
  function view() {
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
      if (R.faultsActive(e)) out.push({ from: e.t, to: null, faults: e });
    }
    if (!(n.fault_log || []).length && R.faultsActive(n.faults)) out.push({ from: now - LIVE_WINDOW_S, to: null, faults: n.faults });
    return out;
  }
  function findUpdate(v, uuid) {
    return v.updates.find((u) => u.uuid === uuid) || (O.mode === "live" ? O.seen.get(uuid) : null) || null;
  }
  function selected(v) {
    if (O.follow) return findUpdate(v, O.follow);
    return v.updates[0] || null;
  }

  // --- the cluster's sides: who can still talk to whom ----------------------------------
  function sides(v) {
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
    return [...groups.values()].map((g) => g.sort(R.byId)).sort((a, b) => b.length - a.length || R.byId(a[0], b[0]));
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
  function verdict(v, u) {
    const m = v.model;
    const n = u.of;
    const period = m.period_s || (v.config && v.config.push_interval_s) || 0.01;
    const t99 = R.serfTime(0.99, n, m.fanout, period, m.loss);
    const elapsed = v.now - u.sent_at;
    const sync = (v.config && v.config.sync_s) || 1;
    const grace = t99 + 2 * sync;
    const modelNow = R.serf(Math.max(elapsed, 0), n, m.fanout, period, m.loss);
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

  // --- drawing: the cluster graph --------------------------------------------------------
  // Drawings are sized in CSS pixels (the viewBox follows the element's width), so text
  // keeps its size on a phone instead of shrinking with the picture.
  let GW = 640, GH = 440;
  function sizeOf(svg, fallback) {
    const w = Math.round(svg.getBoundingClientRect().width);
    return w > 100 ? w : fallback;
  }
  // Each side of a partition gets a box (side by side, or stacked on a narrow screen) and
  // its nodes go round a circle in it, leaving room for the labels outside the circle.
  function boxes(k) {
    const stacked = k > 1 && GW < 520;
    return Array.from({ length: k }, (_, c) => stacked
      ? { x: 0, y: (GH / k) * c, w: GW, h: GH / k, stacked }
      : { x: (GW / k) * c, y: 0, w: GW / k, h: GH, stacked });
  }
  function layout(v, comps) {
    const pos = new Map();
    const n = v.nodes.length;
    const nodeR = n <= 8 ? 20 : n <= 20 ? 13 : n <= 50 ? 8 : 5;
    const labels = n <= 20;
    boxes(comps.length).forEach((b, c) => {
      const ids = comps[c];
      const cx = b.x + b.w / 2;
      const cy = b.y + b.h / 2 + (comps.length > 1 ? 8 : 0);
      const room = labels ? Math.min(b.w / 2 - 56, b.h / 2 - 58) : Math.min(b.w, b.h) / 2 - 24;
      const r = ids.length === 1 ? 0 : Math.max(room, 28);
      ids.forEach((id, i) => {
        const a = -Math.PI / 2 + (2 * Math.PI * i) / ids.length;
        pos.set(id, { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a), side: c, a, lone: ids.length === 1 });
      });
    });
    return { pos, nodeR };
  }

  function renderGraph(v) {
    const svg = $("graph");
    GW = sizeOf(svg, 640);
    GH = Math.round(Math.min(Math.max(GW * 0.7, 320), 480));
    const k0 = sides(v).length;
    if (GW < 520 && k0 > 1) GH = Math.max(GH, 250 * k0);
    svg.setAttribute("viewBox", `0 0 ${GW} ${GH}`);
    const comps = sides(v);
    const { pos, nodeR } = layout(v, comps);
    const label = labeller(v.nodes.map((n) => n.id));
    const many = v.nodes.length > 20;
    const u = selected(v);
    const race = O.race ? [findUpdate(v, O.race.a), findUpdate(v, O.race.b)] : null;
    const out = [];
    out.push(s("defs", {},
      s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
        s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" })),
      s("marker", { id: "arrow-b", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
        s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead-b" }))));
    // the sides of a partition, and the cut between them
    if (comps.length > 1) {
      boxes(comps.length).forEach((b, c) => {
        out.push(s("rect", { x: b.x + 6, y: b.y + 6, width: b.w - 12, height: b.h - 12, rx: 14, class: "side-box" }));
        out.push(s("text", { x: b.x + 16, y: b.y + 26, class: "side-label", text: `side ${"ABCDEFGH"[c] || c + 1} · ${plural(comps[c].length, "node")}` }));
        if (!c) return;
        if (b.stacked) {
          out.push(s("line", { x1: 10, y1: b.y, x2: GW - 10, y2: b.y, class: "cut" }));
          out.push(s("text", { x: GW - 14, y: b.y + 5, class: "cut-label", "text-anchor": "end", text: "✂ partition" }));
        } else {
          out.push(s("line", { x1: b.x, y1: 10, x2: b.x, y2: GH - 10, class: "cut" }));
          out.push(s("text", { x: b.x, y: GH - 4, class: "cut-label", "text-anchor": "middle", text: "✂ partition" }));
        }
      });
    }
    // traffic: messages received over the last link window, both directions together
    const pairs = new Map();
    for (const e of v.edges) {
      if (!pos.has(e.from) || !pos.has(e.to)) continue;
      const key = [e.from, e.to].sort().join("|");
      pairs.set(key, (pairs.get(key) || 0) + e.rate);
    }
    const maxRate = Math.max(0.001, ...pairs.values());
    for (const [key, rate] of pairs) {
      const [a, b] = key.split("|").map((id) => pos.get(id));
      // traffic from before a cut, across it: drawn as a link that is gone (if few)
      const across = a.side !== b.side;
      if (across && v.nodes.length > 20) continue;
      out.push(s("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: across ? "traffic gone" : "traffic",
        "stroke-width": (0.6 + 5 * (rate / maxRate)).toFixed(2) },
      s("title", { text: `${key.replace("|", " ↔ ")}: ${rate.toFixed(1)} messages/s over the last ${R.LINK_WINDOW_S} s${across ? " (before the cut)" : ""}` })));
    }
    // who told whom: the selected update's tree (and a raced second one)
    const trees = race && race[0] && race[1] ? [[race[0], "tree"], [race[1], "tree-b"]] : u ? [[u, "tree"]] : [];
    for (const [upd, cls] of trees) {
      for (const [id, rec] of Object.entries(upd.nodes)) {
        if (!rec.parent || rec.t === null || !pos.has(id) || !pos.has(rec.parent)) continue;
        const a = pos.get(rec.parent), b = pos.get(id);
        const d = Math.hypot(b.x - a.x, b.y - a.y) || 1;
        const ux = (b.x - a.x) / d, uy = (b.y - a.y) / d;
        const gap = nodeR + 3;
        out.push(s("line", { x1: a.x + ux * gap, y1: a.y + uy * gap, x2: b.x - ux * gap, y2: b.y - uy * gap, class: cls,
          "marker-end": `url(#${cls === "tree" ? "arrow" : "arrow-b"})`, "data-from": rec.parent, "data-to": id },
        s("title", { text: `${nameOf(rec.parent)} told ${nameOf(id)} (${id}) first (hop ${rec.hops}, +${fmtDelay(rec.delay_s)})` })));
      }
    }
    // the nodes
    const vd = u ? verdict(v, u) : null;
    const lagging = new Set(vd && vd.kind === "behind" ? u.pending : []);
    for (const n of v.nodes) {
      const p = pos.get(n.id);
      const rec = u && u.nodes[n.id];
      const isOrigin = u && (u.origin === n.id || (race && race[1] && race[1].origin === n.id));
      const pendingHere = u && u.pending.includes(n.id);
      const proposed = O.cutMode || (O.groups.size && !O.groupsProposed) ? O.groups.get(n.id) : null;
      const cls = ["node", n.reachable ? `h-${n.health}` : "down", O.inspect === n.id ? "inspected" : "",
        lagging.has(n.id) ? "lagging" : pendingHere ? "pending" : "", isOrigin ? "origin" : ""].join(" ");
      const words = [n.id, n.reachable ? `favourite ${quote(n.movie)}` : `unreachable (${n.error || "no answer"})`,
        n.health === "self" ? "the node this page is on" : n.health];
      if (rec && rec.t !== null) words.push(isOrigin ? "origin of the update shown" : `told by ${rec.parent}, hop ${rec.hops}, +${fmtDelay(rec.delay_s)}`);
      else if (pendingHere) words.push("has not got the update shown");
      const g = s("g", { class: cls, transform: `translate(${p.x.toFixed(1)},${p.y.toFixed(1)})`, tabindex: "0", role: "button",
        "aria-label": words.join(", "), "data-node": n.id });
      g.append(s("title", { text: words.join("\n") }));
      if (proposed) g.append(s("circle", { r: nodeR + 7, class: `halo halo-${proposed}` }));
      if (lagging.has(n.id) || isOrigin) g.append(s("circle", { r: nodeR + 4, class: isOrigin ? "ring-origin" : "ring-lag" }));
      g.append(s("circle", { r: nodeR, fill: n.reachable ? colourOf(n.movie) : "none", class: "dot" }));
      if (!n.reachable) g.append(s("text", { class: "mark", "text-anchor": "middle", dy: "0.35em", text: "✕" }));
      else if (isOrigin && nodeR >= 13) g.append(s("text", { class: "mark", "text-anchor": "middle", dy: "0.35em", text: "★" }));
      else if (pendingHere && nodeR >= 13) g.append(s("text", { class: "mark", "text-anchor": "middle", dy: "0.35em", text: "⌛" }));
      if (proposed && nodeR >= 13) g.append(s("text", { class: "mark", "text-anchor": "middle", dy: "0.35em", text: proposed }));
      if (!many) {
        // the label outside the ring, away from the centre
        // the label outside the circle, away from its centre; above, below or beside
        const lines = [label(n.id) + (n.health === "self" ? " (here)" : "")];
        const status = (upd, r) => (upd.origin === n.id ? "origin" : r && r.t !== null
          ? `hop ${r.hops} · +${fmtDelay(r.delay_s)}` : upd.overtaken.includes(n.id) ? "skipped" : "not yet");
        if (race && race[0] && race[1]) {
          lines.push(`A ${status(race[0], race[0].nodes[n.id])}`, `B ${status(race[1], race[1].nodes[n.id])}`);
        } else if (rec && rec.t !== null) lines.push(isOrigin ? "origin" : `hop ${rec.hops} · +${fmtDelay(rec.delay_s)}`);
        else if (pendingHere) lines.push("not yet");
        else if (n.reachable && n.movie && v.nodes.length <= 10) lines.push(n.movie.length > 18 ? `${n.movie.slice(0, 17)}…` : n.movie);
        const ay = p.lone ? 1 : Math.sin(p.a);
        // above the nodes of the upper half, below the others: centred, so a label needs
        // little room beside its node
        const lh = 14;
        const lx = 0;
        const ly = ay < -0.2 ? -nodeR - 8 - (lines.length - 1) * lh : nodeR + 16;
        const tx = s("text", { x: lx, y: ly.toFixed(1), class: "label", "text-anchor": "middle" });
        lines.forEach((line, i) => tx.append(s("tspan", { x: lx, dy: i ? lh : 0, class: i ? "label-sub" : "", text: line })));
        g.append(tx);
      }
      g.addEventListener("click", () => inspect(n.id));
      g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); inspect(n.id); } });
      out.push(g);
    }
    if (O.cutLine) {
      const c = O.cutLine;
      out.push(s("line", { x1: c.x1, y1: c.y1, x2: c.x2, y2: c.y2, class: "cut-draw" }));
    }
    svg.replaceChildren(...out);
    // the words for it
    const reach = v.nodes.filter((n) => n.reachable).length;
    const msgs = v.edges.reduce((a, e) => a + e.messages, 0);
    let text = `${plural(v.nodes.length, "node")}, ${reach} answering`;
    text += comps.length > 1 ? `, cut into ${comps.length} sides (${comps.map((c) => c.length).join(" | ")})` : ", all able to talk to each other";
    text += `; ${plural(msgs, "message")} between them in the last ${R.LINK_WINDOW_S} s.`;
    $("graph-desc").textContent = text;
    renderLegend(v);
  }

  function renderLegend(v) {
    const counts = new Map();
    for (const n of v.nodes) if (n.reachable && n.movie) counts.set(n.movie, (counts.get(n.movie) || 0) + 1);
    const items = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([movie, k]) =>
      h("li", {}, h("span", { class: "swatch", style: `background:${colourOf(movie)}`, "aria-hidden": "true" }), `${movie} ×${k}`));
    if (counts.size > 8) items.push(h("li", { text: `and ${counts.size - 8} more favourites` }));
    $("graph-legend").replaceChildren(...items,
      h("li", {}, h("span", { class: "key-line tree", "aria-hidden": "true" }), "told first (arrow)"),
      h("li", {}, h("span", { class: "key-line traffic", "aria-hidden": "true" }), "messages, last 10 s"),
      h("li", { text: "★ origin · ⌛ not yet · ✕ unreachable" }));
  }

  function inspect(id) {
    O.inspect = id;
    renderAll(true);
    const box = $("inspector");
    if (box.getBoundingClientRect().top > window.innerHeight) box.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  // Drawing a cut across the graph: the nodes on either side of the line form the groups.
  function svgPoint(svg, e) {
    const p = svg.createSVGPoint();
    p.x = e.clientX;
    p.y = e.clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  function setupCutDrawing() {
    const svg = $("graph");
    svg.addEventListener("pointerdown", (e) => {
      if (!O.cutMode) return;
      const p = svgPoint(svg, e);
      O.cutLine = { x1: p.x, y1: p.y, x2: p.x, y2: p.y };
      svg.setPointerCapture(e.pointerId);
      e.preventDefault();
    });
    svg.addEventListener("pointermove", (e) => {
      if (!O.cutMode || !O.cutLine) return;
      const p = svgPoint(svg, e);
      O.cutLine.x2 = p.x;
      O.cutLine.y2 = p.y;
      groupsFromLine();
      const v = view();
      if (v) renderGraph(v);
    });
    svg.addEventListener("pointerup", () => {
      if (!O.cutMode || !O.cutLine) return;
      groupsFromLine();
      O.cutLine = null;
      renderAll(true);
      $("faults-result").textContent = O.groups.size
        ? `Groups drawn: A ${[...O.groups.values()].filter((g) => g === "A").length}, B ${[...O.groups.values()].filter((g) => g === "B").length}. Press “Cut the cluster in two”.`
        : "";
    });
  }
  function groupsFromLine() {
    const v = view();
    const c = O.cutLine;
    if (!v || !c || Math.hypot(c.x2 - c.x1, c.y2 - c.y1) < 10) return;
    const { pos } = layout(v, sides(v));
    O.groups = new Map();
    O.groupsProposed = false;
    for (const n of v.nodes) {
      const p = pos.get(n.id);
      const cross = (c.x2 - c.x1) * (p.y - c.y1) - (c.y2 - c.y1) * (p.x - c.x1);
      O.groups.set(n.id, cross < 0 ? "A" : "B");
    }
  }

  // --- drawing: the spread against the model ---------------------------------------------
  let CW = 640, CH = 250;
  const CM = { l: 46, r: 14, t: 14, b: 36 };
  function renderCurve(v) {
    const svg = $("curve");
    CW = sizeOf(svg, 640);
    CH = CW < 500 ? 220 : 260;
    svg.setAttribute("viewBox", `0 0 ${CW} ${CH}`);
    const u = selected(v);
    const caption = $("curve-title");
    const verdictEl = $("curve-verdict");
    if (!u) {
      svg.replaceChildren(s("text", { x: CW / 2, y: CH / 2, "text-anchor": "middle", class: "empty", text: "No update seen yet: start one above." }));
      caption.textContent = "";
      verdictEl.textContent = "";
      verdictEl.className = "verdict";
      return;
    }
    const m = v.model;
    const n = Math.max(u.of, 1);
    const period = m.period_s || (v.config && v.config.push_interval_s) || 0.01;
    const t99 = R.serfTime(0.99, n, m.fanout, period, m.loss);
    const elapsed = Math.max(v.now - u.sent_at, 0);
    const delays = Object.values(u.nodes).filter((x) => x.t !== null).map((x) => Math.max(x.delay_s || 0, 0)).sort((a, b) => a - b);
    const last = delays.length ? delays[delays.length - 1] : 0;
    let tmax = Math.max(t99 * 1.3, last * 1.15, 0.005);
    if (u.pending.length) tmax = Math.max(tmax, elapsed * 1.05);
    const X = (t) => CM.l + (Math.min(t, tmax) / tmax) * (CW - CM.l - CM.r);
    const Y = (f) => CH - CM.b - f * (CH - CM.t - CM.b);
    const out = [];
    // grid and axes
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      out.push(s("line", { x1: CM.l, x2: CW - CM.r, y1: Y(f), y2: Y(f), class: f === 0 || f === 1 ? "axis" : "grid" }));
      out.push(s("text", { x: CM.l - 6, y: Y(f) + 4, "text-anchor": "end", class: "tick", text: `${f * 100}%` }));
    }
    const step = niceStep(tmax, CW < 500 ? 3 : 5);
    for (let t = 0; t <= tmax + 1e-12; t += step) {
      out.push(s("line", { x1: X(t), x2: X(t), y1: Y(0), y2: Y(0) + 4, class: "axis" }));
      const edge = X(t) > CW - CM.r - 24;
      out.push(s("text", { x: X(t), y: Y(0) + 17, "text-anchor": edge ? "end" : "middle", class: "tick", text: fmtDelay(t) }));
    }
    out.push(s("text", { x: (CW + CM.l) / 2, y: CH - 2, "text-anchor": "middle", class: "axis-title", text: "time since the send" }));
    // earlier updates, faintly
    const others = v.updates.filter((x) => x.uuid !== u.uuid).slice(0, 4);
    for (const o of others) out.push(s("path", { d: stepPath(o, X, Y, Math.max(v.now - o.sent_at, 0), tmax), class: "measured-old" }));
    // the model
    let d = "";
    for (let i = 0; i <= 120; i += 1) {
      const t = (tmax * i) / 120;
      d += `${i ? "L" : "M"}${X(t).toFixed(1)},${Y(R.serf(t, n, m.fanout, period, m.loss)).toFixed(1)}`;
    }
    out.push(s("path", { d, class: "model" }, s("title", { text: "the Serf model's prediction" })));
    out.push(s("line", { x1: X(t99), x2: X(t99), y1: Y(0), y2: Y(0.99), class: "model-mark" }));
    // the measurement
    out.push(s("path", { d: stepPath(u, X, Y, elapsed, tmax), class: "measured" }, s("title", { text: "measured: the fraction of nodes that know this update" })));
    delays.forEach((t, i) => out.push(s("circle", { cx: X(t), cy: Y((i + 1) / n), r: 3, class: "measured-dot" })));
    if (u.pending.length && !v.replay) out.push(s("line", { x1: X(elapsed), x2: X(elapsed), y1: Y(0), y2: Y(1), class: "now-mark" }));
    svg.replaceChildren(...out);
    caption.textContent = `${nameOf(u.origin)}'s ${counterOf(v, u.origin, u.version)} ${quote(u.movie)}: ${u.reached} of ${u.of} nodes. ` +
      `Model: ${plural(n, "node")}, fanout ${m.fanout}, ${m.period_s ? `a hop every ${fmtDelay(m.period_s)} (measured)` : `${fmtDelay(period)} a hop (assumed)`}, ` +
      `loss ${Math.round(m.loss * 100)} %.`;
    const vd = verdict(v, u);
    verdictEl.className = `verdict ${vd.kind}`;
    verdictEl.replaceChildren(vd.text);
    verdictEl.dataset.kind = vd.kind;
    if (vd.kind === "behind") {
      // the lagging nodes, by reason: a few named (each opens its view), the rest counted
      const label = labeller(v.nodes.map((x) => x.id));
      const byWhy = new Map();
      for (const { id, why } of vd.why) {
        if (!byWhy.has(why)) byWhy.set(why, []);
        byWhy.get(why).push(id);
      }
      [...byWhy].forEach(([why, ids], k) => {
        if (k) verdictEl.append("; ");
        ids.slice(0, 6).forEach((id, i) => {
          if (i) verdictEl.append(", ");
          const b = h("button", { type: "button", class: "linkish", "data-lagging": id, text: label(id), title: `inspect ${id}` });
          b.addEventListener("click", () => inspect(id));
          verdictEl.append(b);
        });
        if (ids.length > 6) verdictEl.append(` and ${ids.length - 6} more`);
        verdictEl.append(` (${ids.length > 1 ? `${ids.length} nodes ` : ""}${why})`);
      });
      verdictEl.append(".");
    }
  }
  function stepPath(u, X, Y, elapsed, tmax) {
    const n = Math.max(u.of, 1);
    const delays = Object.values(u.nodes).filter((x) => x.t !== null).map((x) => Math.max(x.delay_s || 0, 0)).sort((a, b) => a - b);
    let d = `M${X(0).toFixed(1)},${Y(0).toFixed(1)}`;
    let f = 0;
    for (const t of delays) {
      d += `L${X(t).toFixed(1)},${Y(f).toFixed(1)}`;
      f += 1 / n;
      d += `L${X(t).toFixed(1)},${Y(f).toFixed(1)}`;
    }
    const end = u.pending.length ? Math.min(elapsed, tmax) : Math.max(delays[delays.length - 1] || 0, 0);
    d += `L${X(Math.max(end, delays[delays.length - 1] || 0)).toFixed(1)},${Y(f).toFixed(1)}`;
    return d;
  }

  // --- genealogy: the tree of who first told whom ---------------------------------------
  function renderGenealogy(v) {
    const u = selected(v);
    const tree = $("gen-tree");
    const cost = $("gen-cost");
    const title = $("gen-title");
    const rest = $("gen-rest");
    if (!u) {
      title.textContent = "No update seen yet.";
      tree.replaceChildren();
      cost.replaceChildren();
      rest.textContent = "";
      return;
    }
    const label = labeller(v.nodes.map((x) => x.id));
    title.textContent = `${nameOf(u.origin)} picked ${quote(u.movie)} (${counterOf(v, u.origin, u.version)}) at ${fmtClock(u.sent_at)}: ` +
      (u.pending.length ? `${u.reached} of ${u.of} nodes have it so far.` : `all ${u.reached} nodes have it${u.spread_s !== null ? `, the last after ${fmtDelay(u.spread_s)}` : ""}.`);
    const ttlDrops = Object.values(u.nodes).filter((x) => x.ttl_drop).length;
    cost.replaceChildren(
      fact("Messages", `${u.copies}`, `ideal ${u.ideal_copies}: each node told once`, u.copies > u.ideal_copies ? "over" : "ok"),
      fact("Redundant copies", `${u.redundant}`, "duplicates and stale copies", u.redundant ? "over" : "ok"),
      fact("Depth", `${u.depth} ${u.depth === 1 ? "hop" : "hops"}`, `ideal ${u.ideal_depth} with fanout ${v.model.fanout}`, u.depth > u.ideal_depth ? "over" : "ok"),
      fact("TTL drops", `${ttlDrops}`, "applied, not forwarded", ttlDrops ? "over" : "ok"));
    // children by parent, each sorted by arrival
    const kids = new Map();
    for (const [id, rec] of Object.entries(u.nodes)) {
      if (rec.t === null || id === u.origin) continue;
      const p = rec.parent || "?";
      if (!kids.has(p)) kids.set(p, []);
      kids.get(p).push(id);
    }
    for (const list of kids.values()) list.sort((a, b) => u.nodes[a].t - u.nodes[b].t);
    const drawn = new Set();
    const item = (id, depth) => {
      drawn.add(id);
      const rec = u.nodes[id];
      const isOrigin = id === u.origin;
      const copies = rec ? rec.dups + rec.stale : 0;
      const from = rec && rec.senders && Object.keys(rec.senders).length
        ? ` (from ${Object.entries(rec.senders).map(([x, k]) => `${label(x)}${k > 1 ? ` ×${k}` : ""}`).join(", ")})` : "";
      const what = isOrigin
        ? `origin · sent ${fmtClock(u.sent_at)}`
        : `+${fmtDelay(rec.delay_s)} · hop ${rec.hops} · ${rec.via} from ${label(rec.parent)}`;
      const extra = [copies ? `${plural(copies, "redundant copy", "redundant copies")}${from}` : "no redundant copy"];
      if (rec && rec.ttl_drop) extra.push("TTL spent: not forwarded");
      const btn = h("button", { type: "button", class: "linkish id", text: label(id), title: `inspect ${id}` });
      btn.addEventListener("click", () => inspect(id));
      const li = h("li", { "data-node": id, "data-parent": isOrigin ? "" : rec.parent, "data-hops": isOrigin ? 0 : rec.hops,
        "data-t": rec ? rec.t : "", "data-delay": rec ? rec.delay_s : "", "aria-level": depth + 1 },
      h("span", { class: "gen-node" }, h("span", { class: "swatch", style: `background:${colourOf(u.movie)}`, "aria-hidden": "true" }), btn,
        h("span", { class: "gen-what", text: what }), h("span", { class: "gen-extra", text: extra.join(" · ") })));
      const children = (kids.get(id) || []).filter((c) => !drawn.has(c));
      if (children.length) li.append(h("ul", { role: "group" }, children.map((c) => item(c, depth + 1))));
      return li;
    };
    const roots = [];
    if (u.nodes[u.origin] && u.nodes[u.origin].t !== null) roots.push(item(u.origin, 0));
    // arrivals whose parent is not on record (it answered no more, or the record began later)
    for (const [id, rec] of Object.entries(u.nodes)) {
      if (rec.t !== null && !drawn.has(id)) roots.push(item(id, 0));
    }
    tree.replaceChildren(...roots);
    const words = [];
    if (u.pending.length) words.push(`Not yet: ${u.pending.map(label).join(", ")}.`);
    if (u.overtaken.length) words.push(`Overtaken (a newer version arrived first, so this one was never applied): ${u.overtaken.map(label).join(", ")}.`);
    rest.textContent = words.join(" ");
  }
  function fact(name, value, why, kind) {
    return h("div", { class: `fact ${kind}` }, h("dt", { text: name }), h("dd", {}, value, h("span", { class: "why", text: why })));
  }

  // --- two rumours racing ---------------------------------------------------------------------
  function renderRace(v) {
    const box = $("race-view");
    const a = O.race && findUpdate(v, O.race.a);
    const b = O.race && findUpdate(v, O.race.b);
    box.hidden = !O.race;
    if (!O.race) return;
    const label = labeller(v.nodes.map((x) => x.id));
    if (!a || !b) {
      $("race-title").textContent = "Waiting for both rumours to show up…";
      $("race-table").tBodies[0].replaceChildren();
      $("race-why").textContent = "";
      return;
    }
    const same = a.origin === b.origin;
    $("race-title").textContent = `${label(a.origin)} ${counterOf(v, a.origin, a.version)} ${quote(a.movie)} (→ solid arrows) against ` +
      `${label(b.origin)} ${counterOf(v, b.origin, b.version)} ${quote(b.movie)} (⇢ dashed arrows).`;
    const cell = (u, id) => {
      const r = u.nodes[id];
      if (r && r.t !== null) return id === u.origin ? "origin" : `+${fmtDelay(r.delay_s)}, hop ${r.hops}, from ${label(r.parent)}`;
      if (u.overtaken.includes(id)) return "skipped: a newer version came first";
      if (r && r.stale) return `arrived after a newer one: stale ×${r.stale}`;
      return "not yet";
    };
    const rows = v.nodes.map((n) => {
      const ra = a.nodes[n.id], rb = b.nodes[n.id];
      const ta = ra && ra.t !== null ? ra.t : Infinity, tb = rb && rb.t !== null ? rb.t : Infinity;
      let first = "—";
      if (isFinite(ta) || isFinite(tb)) first = ta <= tb ? `A, by ${fmtDelay(isFinite(tb) ? tb - ta : null)}` : `B, by ${fmtDelay(isFinite(ta) ? ta - tb : null)}`;
      const known = n.origins || {};
      let ends;
      if (same) {
        const k = known[a.origin];
        ends = k ? (k.version >= Math.max(a.version, b.version) ? `${counterOf(v, a.origin, k.version)} ${quote(k.movie)}: the higher version` : `${counterOf(v, a.origin, k.version)}`) : "—";
      } else {
        const ka = known[a.origin], kb = known[b.origin];
        ends = [ka && ka.version >= a.version ? `A ${quote(ka.movie)}` : "not A", kb && kb.version >= b.version ? `B ${quote(kb.movie)}` : "not B"].join(" and ");
      }
      return h("tr", { "data-node": n.id },
        h("th", { scope: "row", class: "id", text: label(n.id) }),
        h("td", { "data-label": "A", text: cell(a, n.id) }),
        h("td", { "data-label": "B", text: cell(b, n.id) }),
        h("td", { "data-label": "First", text: first }),
        h("td", { "data-label": "Ends with", text: ends }));
    });
    $("race-table").tBodies[0].replaceChildren(...rows);
    $("race-why").textContent = same
      ? `Both are news of ${nameOf(a.origin)}, so only one can stand: every node keeps the higher version (${counterOf(v, a.origin, Math.max(a.version, b.version))}). ` +
        "A node that hears the higher one first drops the lower as stale when it arrives: version order, not arrival order, decides."
      : "Different origins: each origin's news is ordered by its own version only, so the two fronts cross without touching, and every node ends with both favourites. " +
        "Where they meet, a node simply forwards each on its first arrival.";
  }

  // --- the timeline: updates, convergence and faults over time ---------------------------
  function renderTimeline(v) {
    const svg = $("timeline");
    const TW = sizeOf(svg, 1000);
    const [w0, w1] = v.window;
    const span = Math.max(w1 - w0, 1e-3);
    const L = TW < 500 ? 84 : 124, Rm = 10;
    const X = (t) => L + ((t - w0) / span) * (TW - L - Rm);
    const rows = [];
    for (const n of v.nodes) {
      const sp = (v.spans.get(n.id) || []).filter((x) => (x.to === null || x.to >= w0) && x.from <= w1);
      if (sp.length) rows.push([n.id, sp]);
    }
    const shownRows = rows.slice(0, 10);
    const H = 24 + 26 + 56 + shownRows.length * 18 + (rows.length > 10 ? 18 : 0) + 8;
    svg.setAttribute("viewBox", `0 0 ${TW} ${H}`);
    const out = [];
    const label = labeller(v.nodes.map((x) => x.id));
    // time axis
    const step = niceStep(span, Math.max(Math.floor(TW / 130), 2));
    for (let t = Math.ceil(w0 / step) * step; t <= w1; t += step) {
      out.push(s("line", { x1: X(t), x2: X(t), y1: 18, y2: H - 6, class: "grid" }));
      out.push(s("text", { x: X(t), y: 13, "text-anchor": "middle", class: "tick", text: fmtClock(t, step < 1) }));
    }
    // updates
    let y = 24;
    out.push(s("text", { x: L - 8, y: y + 15, "text-anchor": "end", class: "row-label", text: "updates" }));
    for (const u of v.timeline) {
      if (u.sent_at < w0 || u.sent_at > w1) continue;
      const chosen = selected(v);
      const c = s("circle", { cx: X(u.sent_at), cy: y + 11, r: chosen && chosen.uuid === u.uuid ? 7 : 4.5, fill: colourOf(u.movie),
        class: `tl-update${chosen && chosen.uuid === u.uuid ? " chosen" : ""}`, tabindex: "0", role: "button",
        "aria-label": `update of ${u.origin}, ${quote(u.movie)} at ${fmtClock(u.sent_at)}: show its genealogy` },
      s("title", { text: `${nameOf(u.origin)} (${u.origin}): ${quote(u.movie)} at ${fmtClock(u.sent_at)}` }));
      const pick = () => { O.follow = u.uuid; renderAll(true); };
      c.addEventListener("click", (e) => { e.stopPropagation(); pick(); });
      c.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
      out.push(c);
    }
    y += 26;
    // convergence: the fraction of (node, origin) pairs up to date
    out.push(s("text", { x: L - 8, y: y + 20, "text-anchor": "end", class: "row-label", text: "up to date" }));
    if (L >= 100) out.push(s("text", { x: L - 8, y: y + 34, "text-anchor": "end", class: "row-sub", text: "(node, origin) pairs" }));
    const pts = v.conv.filter((p) => p.t >= w0 && p.t <= w1);
    const Yc = (f) => y + 50 - f * 46;
    out.push(s("line", { x1: L, x2: TW - Rm, y1: Yc(1), y2: Yc(1), class: "grid" }));
    if (pts.length) {
      let d = `M${X(pts[0].t).toFixed(1)},${Yc(0)}`;
      for (const p of pts) d += `L${X(p.t).toFixed(1)},${Yc(p.frac).toFixed(1)}`;
      d += `L${X(pts[pts.length - 1].t).toFixed(1)},${Yc(0)}Z`;
      out.push(s("path", { d, class: "conv" }));
    }
    y += 56;
    // fault bands, per node
    for (const [id, sp] of shownRows) {
      out.push(s("text", { x: L - 8, y: y + 12, "text-anchor": "end", class: "row-label", text: label(id) }));
      for (const x of sp) {
        const a = X(Math.max(x.from, w0)), b = X(Math.min(x.to ?? w1, w1));
        const f = x.faults;
        const words = [];
        if (f.blocked && f.blocked.length) words.push(`✂ blocks ${f.blocked.length}`);
        if (f.drop) words.push(`drop ${Math.round(f.drop * 100)} %`);
        if (f.duplicate) words.push(`dup ${Math.round(f.duplicate * 100)} %`);
        if (f.delay_ms || f.jitter_ms) words.push(`+${Math.round(f.delay_ms)}±${Math.round(f.jitter_ms)} ms`);
        const band = s("g", { class: `band${f.blocked && f.blocked.length ? " band-cut" : ""}` },
          s("rect", { x: a, y: y + 1, width: Math.max(b - a, 2), height: 14, rx: 3 }),
          s("title", { text: `${id}: ${words.join(", ")} from ${fmtClock(x.from)}${x.to ? ` to ${fmtClock(x.to)}` : " (still on)"}` }));
        if (b - a > 60) band.append(s("text", { x: a + 5, y: y + 12, class: "band-text", text: words.join(", ") }));
        out.push(band);
      }
      y += 18;
    }
    if (rows.length > 10) {
      out.push(s("text", { x: L - 8, y: y + 12, "text-anchor": "end", class: "row-label", text: `+${rows.length - 10} more` }));
      y += 18;
    }
    if (!rows.length) out.push(s("text", { x: L, y: y + 2, class: "row-sub", text: "no faults in this window" }));
    if (v.replay) {
      out.push(s("line", { x1: X(O.rt), x2: X(O.rt), y1: 16, y2: H - 2, class: "cursor" }));
    }
    svg.replaceChildren(...out);
    svg.onclick = v.replay ? (e) => {
      const p = svgPoint(svg, e);
      seekTo(w0 + ((p.x - L) / (TW - L - Rm)) * span);
    } : null;
  }

  // --- the inspector: one node's view of the cluster, and a diff ------------------------
  function renderInspector(v) {
    const nodes = v.nodes;
    if (!O.inspect || !nodes.find((n) => n.id === O.inspect)) O.inspect = (nodes.find((n) => n.health === "self") || nodes[0] || {}).id || null;
    fillSelect($("insp-node"), nodes.map((n) => [n.id, nameOf(n.id)]), O.inspect);
    fillSelect($("insp-diff"), [["", "nobody (no diff)"], ...nodes.filter((n) => n.id !== O.inspect).map((n) => [n.id, nameOf(n.id)])], O.diffWith);
    const n = nodes.find((x) => x.id === O.inspect);
    const body = $("insp-body");
    if (!n) { body.replaceChildren(h("p", { text: "No node to show." })); return; }
    const label = labeller(nodes.map((x) => x.id));
    const now = v.now;
    const newest = {};
    for (const x of nodes) for (const [o, e] of Object.entries(x.origins || {})) if (!newest[o] || e.version > newest[o]) newest[o] = e.version;
    const f = n.faults || R.NO_FAULTS;
    const faultWords = R.faultsActive(f)
      ? [f.blocked && f.blocked.length ? `blocks ${f.blocked.length > 6 ? plural(f.blocked.length, "node") : f.blocked.map(label).join(", ")}` : "", f.drop ? `drops ${Math.round(f.drop * 100)} %` : "",
        f.duplicate ? `duplicates ${Math.round(f.duplicate * 100)} %` : "", f.delay_ms || f.jitter_ms ? `delays ${f.delay_ms}±${f.jitter_ms} ms` : ""].filter(Boolean).join("; ")
      : "none";
    const head = h("p", { class: "insp-head" }, h("strong", { class: "id", title: n.id, text: nameOf(n.id) }),
      n.reachable ? ` · favourite ${quote(n.movie)} · ${n.health === "self" ? "the node this page is on" : n.health} · faults: ${faultWords}` : ` · unreachable: ${n.error || "no answer"}`);
    const parts = [head];
    if (n.reachable) {
      const rows = Object.entries(n.origins || {}).sort((a, b) => R.byId(a[0], b[0])).map(([o, e]) => {
        const behind = newest[o] - e.version;
        return h("tr", { "data-origin": o },
          h("th", { scope: "row", class: "id", text: label(o) }),
          h("td", { "data-label": "Favourite", text: e.movie }),
          h("td", { "data-label": "Version", text: counterOf(v, o, e.version) }),
          h("td", { "data-label": "Status" }, h("span", { class: `status ${behind > 0 ? "b1" : "ok"}`, text: behind > 0 ? "▲ behind" : "✓ newest" })),
          h("td", { "data-label": "Age", text: e.learned_at ? `${fmtDelay(now - e.learned_at)} old` : "—" }),
          h("td", { "data-label": "How", text: e.via === "local" ? "its own" : `${e.via} from ${label(e.sender)}, hop ${e.hops}` }));
      });
      parts.push(h("h4", { text: "What it knows" }), table(["Origin", "Favourite", "Version", "Status", "Age", "How"], rows, "insp-origins"));
      const peers = Object.entries(n.peers || {}).sort((a, b) => R.byId(a[0], b[0])).map(([p, e]) =>
        h("tr", { "data-peer": p },
          h("th", { scope: "row", class: "id", text: label(p) }),
          h("td", { "data-label": "Health" }, h("span", { class: `status health-${e.state}`, text: e.state })),
          h("td", { "data-label": "Last heard", text: e.last_heard ? `${fmtDelay(now - e.last_heard)} ago` : "—" })));
      parts.push(h("h4", { text: "Its peers" }), table(["Peer", "Health", "Last heard"], peers, "insp-peers"));
    }
    const other = nodes.find((x) => x.id === O.diffWith);
    if (other && n.reachable && other.reachable) {
      const rows = [];
      const os = new Set([...Object.keys(n.origins || {}), ...Object.keys(other.origins || {})]);
      let same = 0;
      for (const o of [...os].sort(R.byId)) {
        const a = (n.origins || {})[o], b = (other.origins || {})[o];
        if (a && b && a.version === b.version) { same += 1; continue; }
        rows.push(h("tr", {}, h("th", { scope: "row", class: "id", text: `origin ${label(o)}` }),
          h("td", { "data-label": label(n.id), text: a ? `${counterOf(v, o, a.version)} ${quote(a.movie)}` : "never heard" }),
          h("td", { "data-label": label(other.id), text: b ? `${counterOf(v, o, b.version)} ${quote(b.movie)}` : "never heard" })));
      }
      const ps = new Set([...Object.keys(n.peers || {}), ...Object.keys(other.peers || {})]);
      for (const p of [...ps].sort(R.byId)) {
        if (p === n.id || p === other.id) continue;
        const a = (n.peers || {})[p], b = (other.peers || {})[p];
        if (a && b && a.state === b.state) { same += 1; continue; }
        rows.push(h("tr", {}, h("th", { scope: "row", class: "id", text: `peer ${label(p)}` }),
          h("td", { "data-label": label(n.id), text: a ? a.state : "unknown" }),
          h("td", { "data-label": label(other.id), text: b ? b.state : "unknown" })));
      }
      parts.push(h("h4", { text: `Where ${label(n.id)} and ${label(other.id)} differ` }),
        rows.length ? table(["", label(n.id), label(other.id)], rows, "insp-diff-table") : h("p", { class: "ok-text", text: "They agree on everything." }),
        h("p", { class: "hint", text: `${plural(same, "entry", "entries")} the same.` }));
    } else if (other) {
      parts.push(h("p", { class: "hint", text: "One of the two does not answer: nothing to compare." }));
    }
    body.replaceChildren(...parts);
    // the fault editor shows this node's faults (unless the user is typing)
    if (!$("fault-editor").contains(document.activeElement)) {
      $("fe-drop").value = Math.round((f.drop || 0) * 100);
      $("fe-dup").value = Math.round((f.duplicate || 0) * 100);
      $("fe-delay").value = Math.round(f.delay_ms || 0);
      $("fe-jitter").value = Math.round(f.jitter_ms || 0);
    }
    $("fe-node").textContent = label(n.id);
    const isolated = (f.blocked || []).length >= nodes.length - 1 && nodes.length > 1;
    $("fe-isolate").textContent = isolated ? "Let it rejoin" : "Isolate it";
    $("fe-isolate").dataset.action = isolated ? "rejoin" : "isolate";
  }
  function table(heads, rows, id) {
    return h("div", { class: "scroll" }, h("table", { class: "list compact", id },
      h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col", text: x })))),
      h("tbody", {}, rows)));
  }
  function fillSelect(sel, options, value) {
    const want = JSON.stringify(options);
    if (sel.dataset.options !== want) {
      sel.replaceChildren(...options.map(([v, t]) => h("option", { value: v, text: t })));
      sel.dataset.options = want;
    }
    if (document.activeElement !== sel) sel.value = value ?? "";
  }

  // --- faults from the page --------------------------------------------------------------
  function renderFaults(v) {
    const box = $("cut-groups");
    const label = labeller(v.nodes.map((x) => x.id));
    if (!O.groups.size) {
      // a first proposal: halves of the nodes, in id order
      const ids = v.nodes.map((n) => n.id);
      const half = Math.ceil(ids.length / 2);
      ids.forEach((id, i) => O.groups.set(id, i < half ? "A" : "B"));
      O.groupsProposed = true;
    }
    const want = v.nodes.map((n) => `${n.id}=${O.groups.get(n.id) || "A"}`).join(",");
    if (box.dataset.state !== want) {
      box.dataset.state = want;
      box.replaceChildren(...v.nodes.map((n) => {
        const side = O.groups.get(n.id) || "A";
        const radio = (g) => {
          const input = h("input", { type: "radio", name: `side-${n.id}`, value: g, checked: side === g, "aria-label": `${n.id} on side ${g}` });
          input.addEventListener("change", () => { O.groups.set(n.id, g); O.groupsProposed = false; renderAll(true); });
          return h("label", { class: "side-pick" }, input, g);
        };
        return h("div", { class: "cut-row", "data-node": n.id }, h("span", { class: "id", text: label(n.id), title: n.id }), radio("A"), radio("B"));
      }));
    }
    $("cut-draw").setAttribute("aria-pressed", String(O.cutMode));
    $("graph").classList.toggle("drawing", O.cutMode);
    const live = O.mode === "live";
    for (const id of ["cut-apply", "heal", "clear-faults", "fe-apply", "fe-apply-all", "fe-isolate", "cut-draw"]) $(id).disabled = !live;
    $("faults-off").hidden = live;
  }

  async function faultAction(body, what) {
    const out = $("faults-result");
    out.className = "result";
    out.textContent = `${what}…`;
    try {
      const r = await fetch("observatory/faults", { method: "POST", headers: { "Content-Type": "application/json", ...token() }, body: JSON.stringify(body) });
      const data = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
      const results = Object.entries(data.results || {});
      const bad = results.filter(([, x]) => x.status !== 200);
      if (!bad.length) {
        out.className = "result ok";
        out.textContent = `${what}: done on ${plural(results.length, "node")}.`;
      } else {
        out.className = "result error";
        const first = bad[0][1];
        let hint = "";
        if (bad.some(([, x]) => x.reason === "admin_off")) hint = " The nodes have no admin token: start them with GOSSIP_ADMIN_TOKEN (e.g. python -m lab.cluster --nodes 5 --env GOSSIP_ADMIN_TOKEN=secret) and type it above.";
        else if (bad.some(([, x]) => x.status === 401)) hint = " Type the nodes' admin token above.";
        out.textContent = `${what}: refused by ${plural(bad.length, "node")} of ${results.length} (${bad[0][0]}: ${first.error || first.status}).${hint}`;
      }
    } catch (e) {
      out.className = "result error";
      out.textContent = `${what}: failed: ${e.message}`;
    }
    O.fastUntil = Date.now() + 8000;
    schedulePoll(150);
  }

  // --- starting updates ---------------------------------------------------------------------
  async function publish(id) {
    const url = id === O.localId ? "favourite" : `proxy/${encodeURIComponent(id)}/favourite`;
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", ...token() } });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const hint = r.status === 401 ? " (the node wants its admin token: type it under Faults)" : "";
      throw new Error(`${id}: ${data.error || `HTTP ${r.status}`}${hint}`);
    }
    return data;
  }
  async function startUpdate(ev) {
    ev.preventDefault();
    const id = $("start-node").value;
    const out = $("obs-result");
    out.className = "result";
    out.textContent = "Publishing…";
    try {
      const d = await publish(id);
      O.follow = "";
      O.race = null;
      out.className = "result ok";
      out.textContent = `${nameOf(id)} now likes ${quote(d.movie)}: watch it spread.`;
      O.fastUntil = Date.now() + 6000;
      schedulePoll(120);
    } catch (e) {
      out.className = "result error";
      out.textContent = `Not started: ${e.message}`;
    }
  }
  async function startRace(ev) {
    ev.preventDefault();
    const a = $("race-a").value, b = $("race-b").value;
    const out = $("obs-result");
    out.className = "result";
    out.textContent = "Starting both…";
    try {
      // both at once; the same node twice publishes two versions back to back
      const [da, db] = a === b ? [await publish(a), await publish(b)] : await Promise.all([publish(a), publish(b)]);
      O.race = { a: da.uuid, b: db.uuid };
      O.follow = da.uuid;
      out.className = "result ok";
      out.textContent = `Racing ${quote(da.movie)} from ${nameOf(a)} against ${quote(db.movie)} from ${nameOf(b)}.`;
      O.fastUntil = Date.now() + 6000;
      schedulePoll(120);
    } catch (e) {
      out.className = "result error";
      out.textContent = `Not started: ${e.message}`;
    }
  }

  function renderControls(v) {
    const ids = v.nodes.map((n) => [n.id, nameOf(n.id) + (n.health === "self" ? " (this node)" : "")]);
    fillSelect($("start-node"), ids, $("start-node").value || O.localId);
    fillSelect($("race-a"), ids, $("race-a").value || (ids[0] || [])[0]);
    fillSelect($("race-b"), ids, $("race-b").value || (ids[ids.length - 1] || [])[0]);
    const label = labeller(v.nodes.map((x) => x.id));
    const opts = [["", "the latest (follow)"], ...v.updates.map((u) => [u.uuid, `${fmtClock(u.sent_at)} · ${label(u.origin)} ${counterOf(v, u.origin, u.version)} ${u.movie || ""}`])];
    if (O.follow && !v.updates.find((u) => u.uuid === O.follow)) {
      const u = findUpdate(v, O.follow);
      if (u) opts.push([u.uuid, `${fmtClock(u.sent_at)} · ${label(u.origin)} ${u.movie || ""}`]);
    }
    fillSelect($("follow"), opts, O.follow);
    fillSelect($("compare"), [["", "nothing"], ...opts.slice(1)], O.race ? O.race.b : "");
    const live = O.mode === "live";
    $("start-button").disabled = !live;
    $("race-button").disabled = !live;
  }

  // --- record and replay ------------------------------------------------------------------
  function renderMode(v) {
    const el = $("obs-mode");
    el.dataset.mode = O.mode;
    if (O.mode === "live") {
      el.textContent = O.recordingSince ? `● Recording since ${fmtClock(O.recordingSince, false)}` : "● Live";
      if (O.recordingSince) el.dataset.mode = "recording";
    } else {
      const rp = O.replay;
      el.textContent = `▶ Replay of ${rp.name}: ${fmtClock(O.rt)} (${fmtDelay(O.rt - rp.t0)} of ${fmtDelay(rp.t1 - rp.t0)})`;
    }
    $("record-start").hidden = O.mode !== "live" || !!O.recordingSince;
    $("record-stop").hidden = O.mode !== "live" || !O.recordingSince;
    $("replay-last").disabled = O.mode !== "live";
    $("player").hidden = O.mode !== "replay";
    $("back-live").hidden = O.mode !== "replay";
  }

  function renderPlayer() {
    const rp = O.replay;
    if (!rp) return;
    const span = Math.max(rp.t1 - rp.t0, 1e-6);
    const scrub = $("scrub");
    if (document.activeElement !== scrub || O.playing) scrub.value = String(Math.round(((O.rt - rp.t0) / span) * 1000));
    scrub.setAttribute("aria-valuetext", `${fmtClock(O.rt)}, ${fmtDelay(O.rt - rp.t0)} into the record`);
    $("play").textContent = O.playing ? "⏸ Pause" : "▶ Play";
    $("play").setAttribute("aria-pressed", String(O.playing));
    $("replay-time").textContent = `${fmtClock(O.rt)} · ${fmtDelay(O.rt - rp.t0)} of ${fmtDelay(span)}`;
    const line = rp.lineAt(O.rt);
    $("replay-event").textContent = line ? describeLine(line, rp) : "The start of the record.";
  }
  function describeLine(l, rp) {
    const label = labeller(rp.ids);
    const who = label(l.node);
    switch (l.kind) {
      case "movie_changed": return `${fmtClock(l.t)} ${who} picked ${quote(l.movie)}`;
      case "update_applied": return `${fmtClock(l.t)} ${who} learned ${label(l.origin)}'s ${quote(l.movie)} from ${label(l.sender)} (hop ${l.hops}, ${l.via})`;
      case "message_deduplicated": return `${fmtClock(l.t)} ${who} got ${label(l.origin)}'s news again from ${label(l.sender)}: a duplicate`;
      case "stale_message": return `${fmtClock(l.t)} ${who} got an older version of ${label(l.origin)} from ${label(l.sender)}: stale`;
      case "ttl_drop": return `${fmtClock(l.t)} ${who} did not forward ${label(l.origin)}'s news: TTL spent`;
      case "peer_state": return `${fmtClock(l.t)} ${who} sees ${label(l.peer)}: ${l.old ?? "new"} → ${l.new}`;
      case "faults_set": return `${fmtClock(l.t)} ${who} faults: ${R.faultsActive(l) ? [l.blocked && l.blocked.length ? `blocks ${l.blocked.length}` : "", l.drop ? `drop ${Math.round(l.drop * 100)} %` : "", l.duplicate ? `dup ${Math.round(l.duplicate * 100)} %` : "", l.delay_ms ? `delay ${l.delay_ms} ms` : ""].filter(Boolean).join(", ") : "none (healed)"}`;
      case "node_started": return `${fmtClock(l.t)} ${who} started`;
      case "node_stopped": return `${fmtClock(l.t)} ${who} stopped`;
      case "snapshot": return `${fmtClock(l.t)} ${who}: what it knew (a checkpoint)`;
      default: return `${fmtClock(l.t)} ${who} ${l.kind}`;
    }
  }

  function startReplay(text, name) {
    let rp;
    try {
      rp = R.load(text, name);
    } catch (e) {
      $("record-result").className = "result error";
      $("record-result").textContent = `Could not load ${name}: ${e.message}`;
      return;
    }
    O.replay = rp;
    $("obs-result").textContent = "";
    O.recordText = text;
    O.recordName = name;
    O.mode = "replay";
    O.rt = rp.t0;
    O.playing = false;
    O.follow = "";
    O.race = null;
    O.inspect = null;
    O.groups = new Map();
    const check = rp.endCheck();
    const res = $("record-result");
    const bits = [`Loaded ${name}: ${plural(rp.ids.length, "node")}, ${plural(rp.lines.length, "line")}, ${fmtDelay(rp.t1 - rp.t0)} (${rp.source === "simulator" ? "a simulated run" : "a live cluster"}).`];
    if (rp.bad) bits.push(`${plural(rp.bad, "line")} skipped (not record lines).`);
    if ((rp.header.missing && Object.keys(rp.header.missing).length)) bits.push(`Missing nodes: ${Object.keys(rp.header.missing).join(", ")}.`);
    res.className = "result ok";
    res.textContent = bits.join(" ");
    const ec = $("end-check");
    ec.dataset.agree = String(check.differ.length === 0 && check.checked > 0);
    ec.className = check.differ.length ? "result error" : "result ok";
    ec.textContent = check.checked
      ? check.differ.length
        ? `✕ Replayed to the end, ${plural(check.differ.length, "node")} differ from the state the record ended with: ${check.differ.map((d) => d.node).join(", ")}.`
        : `✓ Replayed to the end, every node (${check.agree.length}) is in the state the record ended with.`
      : "The record has no end state to check against.";
    window.GossipPage && window.GossipPage.pauseLive(true);
    renderAll(true);
  }
  function backToLive() {
    O.mode = "live";
    O.playing = false;
    O.follow = "";
    O.race = null;
    O.groups = new Map();
    window.GossipPage && window.GossipPage.pauseLive(false);
    schedulePoll(0);
    renderAll(true);
  }
  function seekTo(t) {
    const rp = O.replay;
    if (!rp) return;
    O.rt = Math.min(Math.max(t, rp.t0), rp.t1);
    renderAll(true);
  }
  let rafLast = 0;
  function tick(ts) {
    if (!O.playing || O.mode !== "replay") { rafLast = 0; return; }
    const dt = rafLast ? Math.min((ts - rafLast) / 1000, 0.25) : 0;
    rafLast = ts;
    const rp = O.replay;
    let t = O.rt + dt * O.speed;
    if ($("skip-quiet").checked) {
      const next = rp.nextLine(O.rt);
      if (next && next.t - O.rt > 1.5) t = Math.max(t, next.t - 0.5); // a quiet stretch: on to the next event
    }
    O.rt = Math.min(t, rp.t1);
    if (O.rt >= rp.t1) O.playing = false;
    renderAll(!O.playing); // the last frame in full
    requestAnimationFrame(tick);
  }
  async function fetchRecord(query, name) {
    const res = $("record-result");
    res.className = "result";
    res.textContent = "Gathering every node's record…";
    try {
      const r = await fetch(`observatory/record?${query}`, { cache: "no-store" });
      const text = await r.text();
      if (!r.ok) throw new Error(text.slice(0, 200) || `HTTP ${r.status}`);
      startReplay(text, name);
    } catch (e) {
      res.className = "result error";
      res.textContent = `Could not get the record: ${e.message}`;
    }
  }
  function saveRecord() {
    if (!O.recordText) return;
    const blob = new Blob([O.recordText], { type: "application/x-ndjson" });
    const a = h("a", { href: URL.createObjectURL(blob), download: O.recordName.endsWith(".jsonl") ? O.recordName : `${O.recordName}.jsonl` });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }
  function stamp(t) {
    const d = new Date(t * 1000);
    const two = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}-${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`;
  }

  // --- the loop ----------------------------------------------------------------------------
  function renderAll(force) {
    const now = performance.now();
    if (!force && now - O.lastRender < RENDER_EVERY_MS) return;
    O.lastRender = now;
    const v = view();
    if (!v) return;
    assignColours(v);
    renderMode(v);
    renderControls(v);
    renderGraph(v);
    renderCurve(v);
    renderGenealogy(v);
    renderRace(v);
    renderTimeline(v);
    renderInspector(v);
    renderFaults(v);
    if (O.mode === "replay") {
      renderPlayer();
      // the matrix is the heaviest drawing (nodes x origins): a few times a second at most
      if (window.GossipPage && (force || now - (O.lastMatrix || 0) > 400)) {
        O.lastMatrix = now;
        window.GossipPage.showReplay(O.replay.cluster(O.rt), `Replay at ${fmtClock(O.rt)}`);
      }
    }
  }

  let pollTimer = null;
  let pollDue = 0;
  function schedulePoll(ms) {
    const due = Date.now() + ms;
    if (pollTimer && pollDue <= due) return;
    clearTimeout(pollTimer);
    pollDue = due;
    pollTimer = setTimeout(poll, ms);
  }
  async function poll() {
    pollTimer = null;
    if (O.mode !== "live" || document.hidden) return schedulePoll(POLL_MS);
    try {
      const r = await fetch("observatory", { cache: "no-store" });
      const data = await r.json();
      if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
      if (O.mode !== "live") return;
      learnNames(data.nodes);
      O.live = data;
      const c = R.convergence(new Map(data.nodes.filter((n) => n.reachable).map((n) => [n.id, { up: true, origins: n.origins }])));
      O.conv.push({ t: data.now, ...c });
      while (O.conv.length && O.conv[0].t < data.now - 3600) O.conv.shift();
      for (const u of data.updates) O.seen.set(u.uuid, u);
      if (O.seen.size > 200) for (const k of [...O.seen.keys()].slice(0, O.seen.size - 200)) O.seen.delete(k);
      $("obs-error").hidden = true;
      renderAll(true);
    } catch (e) {
      $("obs-error").hidden = false;
      $("obs-error").textContent = `Could not gather the observatory: ${e.message}`;
    } finally {
      schedulePoll(Date.now() < O.fastUntil ? FAST_POLL_MS : POLL_MS);
    }
  }

  function start() {
    setupCutDrawing();
    fetch("ui.json").then((r) => r.json()).then((u) => {
      O.localId = u.id;
      O.tokenRequired = u.token_required;
      $("token-note").textContent = u.token_required
        ? "This node has an admin token: the other nodes most likely share it."
        : "This node has no admin token, so faults cannot be set on it. Start the nodes with GOSSIP_ADMIN_TOKEN (python -m lab.cluster --nodes 5 --env GOSSIP_ADMIN_TOKEN=secret) to break them from here.";
    }).catch(() => {});
    $("obs-start").addEventListener("submit", startUpdate);
    $("obs-race").addEventListener("submit", startRace);
    $("follow").addEventListener("change", (e) => { O.follow = e.target.value; renderAll(true); });
    $("compare").addEventListener("change", (e) => {
      const v = view();
      const a = O.follow || (v && v.updates[0] ? v.updates[0].uuid : "");
      O.race = e.target.value && a ? { a, b: e.target.value } : null;
      if (O.race) O.follow = a;
      renderAll(true);
    });
    $("insp-node").addEventListener("change", (e) => { O.inspect = e.target.value; renderAll(true); });
    $("insp-diff").addEventListener("change", (e) => { O.diffWith = e.target.value; renderAll(true); });
    $("cut-draw").addEventListener("click", () => { O.cutMode = !O.cutMode; O.cutLine = null; renderAll(true); });
    $("cut-apply").addEventListener("click", () => {
      const v = view();
      const a = v.nodes.map((n) => n.id).filter((id) => (O.groups.get(id) || "A") === "A");
      const b = v.nodes.map((n) => n.id).filter((id) => O.groups.get(id) === "B");
      if (!a.length || !b.length) {
        $("faults-result").className = "result error";
        $("faults-result").textContent = "Put at least one node on each side.";
        return;
      }
      O.cutMode = false;
      faultAction({ action: "partition", groups: [a, b] }, `Cutting the cluster in two (${a.length} | ${b.length})`);
    });
    $("heal").addEventListener("click", () => faultAction({ action: "heal" }, "Healing the partition"));
    $("clear-faults").addEventListener("click", () => faultAction({ action: "clear" }, "Clearing every fault"));
    const editorFaults = () => ({
      drop: Math.min(Math.max(Number($("fe-drop").value) || 0, 0), 100) / 100,
      duplicate: Math.min(Math.max(Number($("fe-dup").value) || 0, 0), 100) / 100,
      delay_ms: Math.max(Number($("fe-delay").value) || 0, 0),
      jitter_ms: Math.max(Number($("fe-jitter").value) || 0, 0),
    });
    $("fault-editor").addEventListener("submit", (e) => {
      e.preventDefault();
      faultAction({ action: "set", nodes: [O.inspect], faults: editorFaults() }, `Setting the faults of ${O.inspect}`);
    });
    $("fe-apply-all").addEventListener("click", () => faultAction({ action: "set", nodes: "all", faults: editorFaults() }, "Setting the faults of every node"));
    $("fe-isolate").addEventListener("click", (e) => {
      const action = e.target.dataset.action || "isolate";
      faultAction({ action, node: O.inspect }, action === "isolate" ? `Isolating ${O.inspect}` : `Letting ${O.inspect} rejoin`);
    });
    $("record-start").addEventListener("click", () => {
      O.recordingSince = (O.live && O.live.now) || Date.now() / 1000;
      $("record-result").className = "result";
      $("record-result").textContent = "Recording: every node keeps its own record; stop to gather them and replay.";
      renderAll(true);
    });
    $("record-stop").addEventListener("click", () => {
      const since = O.recordingSince;
      O.recordingSince = null;
      fetchRecord(`since=${since}`, `gossip-record-${stamp(since)}`);
    });
    $("replay-last").addEventListener("click", () => {
      const last = Number($("replay-span").value) || 300;
      const now = (O.live && O.live.now) || Date.now() / 1000;
      fetchRecord(`last=${last}`, `gossip-record-${stamp(now - last)}`);
    });
    $("record-file").addEventListener("change", async (e) => {
      const file = e.target.files && e.target.files[0];
      if (!file) return;
      startReplay(await file.text(), file.name);
      e.target.value = "";
    });
    $("save-record").addEventListener("click", saveRecord);
    $("back-live").addEventListener("click", backToLive);
    $("play").addEventListener("click", () => {
      if (!O.replay) return;
      if (O.rt >= O.replay.t1) O.rt = O.replay.t0;
      O.playing = !O.playing;
      renderAll(true);
      if (O.playing) requestAnimationFrame(tick);
    });
    $("to-start").addEventListener("click", () => { O.playing = false; seekTo(O.replay.t0); });
    $("to-end").addEventListener("click", () => { O.playing = false; seekTo(O.replay.t1); });
    $("step-next").addEventListener("click", () => {
      O.playing = false;
      const l = O.replay.nextLine(O.rt);
      seekTo(l ? l.t : O.replay.t1);
    });
    $("step-prev").addEventListener("click", () => {
      O.playing = false;
      const l = O.replay.prevLine(O.rt);
      seekTo(l ? l.t : O.replay.t0);
    });
    $("speed").replaceChildren(...SPEEDS.map((x) => h("option", { value: x, text: `${x}×`, selected: x === 1 })));
    $("speed").addEventListener("change", (e) => { O.speed = Number(e.target.value) || 1; });
    $("scrub").addEventListener("input", (e) => {
      const rp = O.replay;
      if (!rp) return;
      O.playing = false;
      seekTo(rp.t0 + (Number(e.target.value) / 1000) * (rp.t1 - rp.t0));
    });
    document.addEventListener("visibilitychange", () => { if (!document.hidden) schedulePoll(0); });
    let resizeTimer = null;
    window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => renderAll(true), 150); });
    schedulePoll(0);
  }

  // for tests and the curious: the state of the observatory
  window.GossipObservatory = { state: O, view, seekTo, startReplay, backToLive };
  start();
})();
