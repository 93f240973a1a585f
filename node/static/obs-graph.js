// The cluster graph: every node in a circle per side of a partition, coloured by its
// favourite, the traffic of the last link window, the arrows of who first told whom for the
// update shown (and a raced second one), its legend, and drawing a cut across it.

import { $, fmtDelay, h, labeller, nameOf, plural, quote, s } from "./common.js";
import { LINK_WINDOW_S } from "./replay.js";
import { O, colourOf, findUpdate, inspect, refresh, selected, sides, sizeOf, svgPoint, verdict, view } from "./obs-view.js";

let GW = 640, GH = 440; // the drawing's size, in CSS pixels (sizeOf)
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

export function renderGraph(v) {
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
    s("title", { text: `${key.replace("|", " ↔ ")}: ${rate.toFixed(1)} messages/s over the last ${LINK_WINDOW_S} s${across ? " (before the cut)" : ""}` })));
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
  text += `; ${plural(msgs, "message")} between them in the last ${LINK_WINDOW_S} s.`;
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

// Drawing a cut across the graph: the nodes on either side of the line form the groups.
export function setupCutDrawing() {
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
    refresh(true);
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
