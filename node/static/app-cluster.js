// The cluster as this node sees it (GET cluster, gathered server-side): the matrix of who is
// how far behind on which origin, its summary, and the spread of the latest update with the
// recent updates. A replay in the observatory borrows the matrix (showReplay, pauseLive).

import { $, fmtClock, fmtDelay, fmtDuration, h, labeller, learnNames, nameOf, nodeSpan, plural, quote } from "./common.js";
import { HEALTH, renderOrigins } from "./app-known.js";
import { base, behindClass, behindText, S, viewHref, viewing } from "./app-state.js";

const CLUSTER_EVERY_MS = 2500;

// --- the cluster -------------------------------------------------------------------------
let clusterTimer = null;
let clusterBusy = false;
let clusterDue = 0;
export function scheduleCluster(ms) {
  const due = Date.now() + ms;
  if (clusterTimer && clusterDue <= due) return;
  clearTimeout(clusterTimer);
  clusterDue = due;
  clusterTimer = setTimeout(loadCluster, ms);
}
async function loadCluster() {
  clusterTimer = null;
  if (replaying) return scheduleCluster(CLUSTER_EVERY_MS);
  if (clusterBusy) return scheduleCluster(300);
  if (document.hidden) return scheduleCluster(CLUSTER_EVERY_MS);
  clusterBusy = true;
  try {
    const r = await fetch(base + "cluster", { cache: "no-store" });
    const c = await r.json();
    if (!r.ok) throw new Error(c.error || `HTTP ${r.status}`);
    if (replaying) return;
    learnNames(c.nodes);
    S.cluster = c;
    renderCluster(c);
    if (S.state) renderOrigins(S.state);
  } catch (e) {
    const el = $("cluster-summary");
    el.className = "summary bad";
    el.textContent = `Could not gather the cluster: ${e.message}`;
  } finally {
    clusterBusy = false;
    scheduleCluster(CLUSTER_EVERY_MS);
  }
}

function renderCluster(c) {
  const summary = $("cluster-summary");
  const reachable = c.nodes.filter((n) => n.reachable).length;
  const cells = reachable * c.origins.length;
  let text;
  if (c.converged) {
    summary.className = "summary ok";
    text = `Converged: ${plural(reachable, "node")} agree on the newest version of ${plural(c.origins.length, "origin")}.`;
  } else {
    summary.className = "summary busy";
    text = `Converging: ${c.lagging} of ${plural(cells, "entry", "entries")} behind.`;
  }
  if (c.unreachable) text += ` ${plural(c.unreachable, "node")} unreachable.`;
  if (c.left_out) text += ` ${c.left_out} more not asked (limit).`;
  text += ` Gathered ${fmtDuration(c.age_s)} ago in ${fmtDelay(c.elapsed_ms / 1000)}.`;
  summary.textContent = text;
  summary.dataset.converged = String(c.converged);
  renderMatrix(c);
  renderSpread(c);
}

// --- the observatory's replay shows its cluster in the matrix (obs-replay-view.js) ------
let replaying = false;
// A replay's cluster (the shape of /cluster) drawn in the matrix, labelled as such.
export function showReplay(c, label) {
  replaying = true;
  const summary = $("cluster-summary");
  const reachable = c.nodes.filter((n) => n.reachable).length;
  summary.className = c.converged ? "summary ok" : "summary busy";
  summary.textContent = `${label}: ` + (c.converged
    ? `converged, ${plural(reachable, "node")} agree on the newest version of ${plural(c.origins.length, "origin")}.`
    : `${c.lagging} of ${plural(reachable * c.origins.length, "entry", "entries")} behind.`) +
    (c.unreachable ? ` ${plural(c.unreachable, "node")} not running.` : "");
  summary.dataset.converged = String(c.converged);
  summary.dataset.replay = "true";
  renderMatrix(c);
}
// True while a replay owns the matrix; false gives it back to the live cluster.
export function pauseLive(on) {
  replaying = on;
  if (!on) {
    delete $("cluster-summary").dataset.replay;
    scheduleCluster(0);
  }
}

export function renderMatrix(c) {
  const ids = [...new Set([...c.nodes.map((n) => n.id), ...c.origins])];
  const label = labeller(ids);
  const head = h("tr", {},
    h("th", { scope: "col", text: "Node" }),
    h("th", { scope: "col", text: "Its favourite" }),
    c.origins.map((o) => h("th", { scope: "col", title: `origin ${nameOf(o)} (${o})` }, h("span", { class: "id", text: label(o) }))));
  const rows = c.nodes.map((n) => {
    const here = n.id === S.localId;
    // the name (or the whole id), and a short label that narrow screens show instead
    const name = [h("span", { class: "full", text: nameOf(n.id) }), h("span", { class: "short", text: label(n.id) })];
    const link = here && !viewing
      ? h("span", { class: "id", title: n.id }, name)
      : h("a", { href: viewHref(n.id), class: "id", title: `open the view of ${n.id}` }, name);
    const tags = [];
    if (here) tags.push(h("span", { class: "tag", text: "you are here" }));
    if (viewing && n.id === viewing) tags.push(h("span", { class: "tag", text: "viewed" }));
    const health = n.health;
    const rowHead = h("th", { scope: "row" }, link, ...tags,
      n.self ? null : h("span", { class: "sub" },
        h("span", { class: `status health-${health}`, text: HEALTH[health] || health }),
        n.reachable && n.rtt_ms ? ` ${fmtDelay(n.rtt_ms / 1000)}` : ""));
    if (!n.reachable) {
      return h("tr", { "data-node": n.id, class: here ? "here" : null }, rowHead,
        h("td", { class: "fav-cell" }, "—"),
        h("td", { colspan: Math.max(c.origins.length, 1), class: "down", "data-behind": "unreachable" },
          h("span", { text: `✕ unreachable: ${n.error || "no answer"}` })));
    }
    const row = c.matrix[n.id] || {};
    const tds = c.origins.map((o) => {
      const cell = row[o];
      const own = o === n.id ? " own" : "";
      if (!cell) {
        return h("td", { class: `missing${own}`, "data-origin": o, "data-behind": "missing",
          title: `${nameOf(n.id)} has never heard of ${nameOf(o)} (${o})` },
        h("span", { class: "cell missing", text: "? never heard" }));
      }
      const cls = behindClass(cell.behind, cell.older_life);
      const title = `${nameOf(n.id)} knows ${nameOf(o)} (${o}): ${quote(cell.movie)}, version ${cell.version}` +
        (cell.behind ? ` (${cell.older_life ? "an older life" : `${cell.behind} behind`}, newest ${quote(c.newest[o].movie)})` : " (newest)") +
        `, learned ${fmtClock(cell.learned_at)}` +
        (cell.via === "local" ? " (its own)" : ` via ${cell.via} from ${nameOf(cell.sender)}, ${plural(cell.hops, "hop")}`);
      // a cell behind names the favourite it still has; a current one needs no words
      return h("td", { class: `${cls}${own}`, "data-origin": o, "data-behind": String(cell.behind), title },
        h("span", { class: `cell ${cls}` }, behindText(cell.behind, cell.older_life),
          cell.behind ? h("small", { text: cell.movie }) : null));
    });
    return h("tr", { "data-node": n.id, class: here ? "here" : null }, rowHead,
      h("td", { class: "fav-cell movie", text: n.movie ?? "—" }), tds);
  });
  const table = $("matrix");
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...rows);
}

function renderSpread(c) {
  for (const u of c.updates) S.history.set(`${u.origin}@${u.version}`, u);
  // an update overtaken by a newer one from its origin before it reached everyone
  for (const u of S.history.values()) {
    const top = c.newest[u.origin];
    if (top && top.version > u.version && u.spread_s === null) u.superseded = true;
  }
  // keep the history bounded: the newest 50 updates
  const all = [...S.history.values()].sort((a, b) => b.sent_at - a.sent_at);
  for (const u of all.slice(50)) S.history.delete(`${u.origin}@${u.version}`);
  const title = $("spread-title");
  const chart = $("spread-chart");
  const u = c.latest;
  if (!u) {
    title.textContent = "No update with a send time seen yet.";
    chart.replaceChildren();
  } else {
    const n = u.reached.length;
    const counter = u.counter === null ? `version ${u.version}` : `update #${u.counter}`;
    let text = `${nameOf(u.origin)} picked ${quote(u.movie)} (${counter}) at ${fmtClock(u.sent_at)}: ` +
      `reached ${n} of ${plural(u.of, "node")}`;
    text += u.spread_s === null ? " so far." : `, the last ${fmtDelay(u.spread_s)} after the send.`;
    title.textContent = text;
    const label = labeller([...new Set([...c.nodes.map((x) => x.id), ...c.origins])]);
    const maxDelay = Math.max(0.001, ...u.reached.map((r) => r.delay_s));
    const rows = u.reached.map((r) => {
      const pct = Math.max(0, Math.min(100, (r.delay_s / maxDelay) * 100));
      const what = r.via === "local"
        ? "the origin: +0 ms"
        : `+${fmtDelay(r.delay_s)} · ${plural(r.hops ?? 0, "hop")} · ${r.via} from ${r.sender ? label(r.sender) : "?"}`;
      return h("li", { "data-node": r.node },
        nodeSpan(r.node),
        h("span", { class: "track", "aria-hidden": "true" }, h("span", { class: "bar", style: `width:${pct}%` })),
        h("span", { class: "what", text: what }));
    });
    for (const p of u.pending) {
      rows.push(h("li", { class: "pending", "data-node": p.node },
        nodeSpan(p.node),
        h("span", { class: "track", "aria-hidden": "true" }),
        h("span", { class: "what", text: p.behind === null ? "not yet: never heard of the origin" : `not yet (${p.behind} behind)` })));
    }
    chart.replaceChildren(...rows);
  }
  const recent = [...S.history.values()].sort((a, b) => b.sent_at - a.sent_at).slice(0, 12);
  $("updates").tBodies[0].replaceChildren(...recent.map((x) =>
    h("tr", {},
      h("td", { "data-label": "Sent" }, h("time", { text: fmtClock(x.sent_at) })),
      h("td", { "data-label": "Origin", class: "id", title: x.origin, text: nameOf(x.origin) }),
      h("td", { "data-label": "Update", class: "num", text: x.counter === null ? `v${x.version}` : `#${x.counter}` }),
      h("td", { "data-label": "Favourite", text: x.movie }),
      h("td", { "data-label": "Reached", text: `${x.reached.length} of ${x.of}` }),
      h("td", { "data-label": "Time to all",
        text: x.spread_s !== null ? fmtDelay(x.spread_s) : x.superseded ? "overtaken by a newer update" : "not yet" }))));
}
