// Two rumours racing: where each of two updates reached each node, which came first, and
// what every node ends with (the higher version of one origin, or both of two origins).

import { $, fmtDelay, h, labeller, nameOf, quote } from "./common.js";
import { O, counterOf, findUpdate } from "./obs-view.js";

// --- two rumours racing ---------------------------------------------------------------------
export function renderRace(v) {
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
