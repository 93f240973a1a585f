// The genealogy of the update shown: its tree of who first told whom, each node under the
// node that told it, with the cost of the spread (messages, redundant copies, depth, TTL
// drops) next to the ideal, and the nodes it has not reached yet.

import { $, fmtClock, fmtDelay, h, labeller, nameOf, plural, quote } from "./common.js";
import { colourOf, counterOf, inspect, selected } from "./obs-view.js";

// --- genealogy: the tree of who first told whom ---------------------------------------
export function renderGenealogy(v) {
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
  const ways = new Map();  // how the first arrivals came: by the tree, lazy repair, anti-entropy...
  for (const [id, rec] of Object.entries(u.nodes)) {
    if (rec.t !== null && id !== u.origin && rec.via) ways.set(rec.via, (ways.get(rec.via) || 0) + 1);
  }
  cost.replaceChildren(
    fact("Messages", `${u.copies}`, `ideal ${u.ideal_copies}: each node told once`, u.copies > u.ideal_copies ? "over" : "ok"),
    fact("Redundant copies", `${u.redundant}`, "duplicates and stale copies", u.redundant ? "over" : "ok"),
    fact("Depth", `${u.depth} ${u.depth === 1 ? "hop" : "hops"}`, `ideal ${u.ideal_depth} with fanout ${v.model.fanout}`, u.depth > u.ideal_depth ? "over" : "ok"),
    fact("TTL drops", `${ttlDrops}`, "applied, not forwarded", ttlDrops ? "over" : "ok"),
    fact("First arrivals", [...ways].map(([via, k]) => `${k} ${HOW[via] || via}`).join(" · ") || "none yet",
      "how each node first got it", "ok"));
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
      : `+${fmtDelay(rec.delay_s)} · hop ${rec.hops} · ${HOW[rec.via] || rec.via} from ${label(rec.parent)}`;
    const extra = [copies ? `${plural(copies, "redundant copy", "redundant copies")}${from}` : "no redundant copy"];
    if (rec && rec.ttl_drop) extra.push("TTL spent: not forwarded");
    const btn = h("button", { type: "button", class: "linkish id", text: label(id), title: `inspect ${id}` });
    btn.addEventListener("click", () => inspect(id));
    const li = h("li", { "data-node": id, "data-parent": isOrigin ? "" : rec.parent, "data-hops": isOrigin ? 0 : rec.hops,
      "data-t": rec ? rec.t : "", "data-delay": rec ? rec.delay_s : "", "data-via": isOrigin || !rec ? "" : rec.via ?? "",
      "aria-level": depth + 1 },
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
// How news first reached a node (the core's Via): words for the page.
const HOW = { tree: "by the tree", lazy: "by lazy repair", sync: "by anti-entropy", push: "by random push" };

function fact(name, value, why, kind) {
  return h("div", { class: `fact ${kind}` }, h("dt", { text: name }), h("dd", {}, value, h("span", { class: "why", text: why })));
}
