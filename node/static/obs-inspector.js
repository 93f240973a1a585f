// The inspector: one node's view of the cluster (what it knows, its peers, its faults) and
// where it differs from another node's; it also fills the fault editor with that node's faults.

import { $, fmtDelay, h, labeller, nameOf, plural, quote } from "./common.js";
import { NO_FAULTS, byId, faultsActive } from "./replay.js";
import { O, counterOf, fillSelect, refresh } from "./obs-view.js";

// --- the inspector: one node's view of the cluster, and a diff ------------------------
export function renderInspector(v) {
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
  const f = n.faults || NO_FAULTS;
  const faultWords = faultsActive(f)
    ? [f.blocked && f.blocked.length ? `blocks ${f.blocked.length > 6 ? plural(f.blocked.length, "node") : f.blocked.map(label).join(", ")}` : "", f.drop ? `drops ${Math.round(f.drop * 100)} %` : "",
      f.duplicate ? `duplicates ${Math.round(f.duplicate * 100)} %` : "", f.delay_ms || f.jitter_ms ? `delays ${f.delay_ms}±${f.jitter_ms} ms` : ""].filter(Boolean).join("; ")
    : "none";
  const head = h("p", { class: "insp-head" }, h("strong", { class: "id", title: n.id, text: nameOf(n.id) }),
    n.reachable ? ` · favourite ${quote(n.movie)} · ${n.health === "self" ? "the node this page is on" : n.health} · faults: ${faultWords}` : ` · unreachable: ${n.error || "no answer"}`);
  const parts = [head];
  if (n.reachable) {
    const rows = Object.entries(n.origins || {}).sort((a, b) => byId(a[0], b[0])).map(([o, e]) => {
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
    const peers = Object.entries(n.peers || {}).sort((a, b) => byId(a[0], b[0])).map(([p, e]) =>
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
    for (const o of [...os].sort(byId)) {
      const a = (n.origins || {})[o], b = (other.origins || {})[o];
      if (a && b && a.version === b.version) { same += 1; continue; }
      rows.push(h("tr", {}, h("th", { scope: "row", class: "id", text: `origin ${label(o)}` }),
        h("td", { "data-label": label(n.id), text: a ? `${counterOf(v, o, a.version)} ${quote(a.movie)}` : "never heard" }),
        h("td", { "data-label": label(other.id), text: b ? `${counterOf(v, o, b.version)} ${quote(b.movie)}` : "never heard" })));
    }
    const ps = new Set([...Object.keys(n.peers || {}), ...Object.keys(other.peers || {})]);
    for (const p of [...ps].sort(byId)) {
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

export function setupInspector() {
  $("insp-node").addEventListener("change", (e) => { O.inspect = e.target.value; refresh(true); });
  $("insp-diff").addEventListener("change", (e) => { O.diffWith = e.target.value; refresh(true); });
}
