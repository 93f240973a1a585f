// The node's page: what this node knows, live, and the whole cluster as this node sees it.
// Owns the sections below the observatory (this node, the cluster matrix, the spread, the
// origins, the peers, the live feed) and the pick form; the observatory's modules (obs*.js)
// borrow its matrix for a replay through `showReplay` and `pauseLive`.
//
// Data: the node pushes its /state and its events over one Server-Sent Events stream
// (`events`); the cluster matrix and spread come from `cluster` (gathered server-side, since
// the browser may not reach the peers), fetched every few seconds and right after news
// arrives. With `?view=<peer>` the page shows that peer instead, through this node's
// `proxy/<peer>/...` endpoints. Everything from the network is put in the page as text
// (textContent), never as HTML: movie titles and ids come from other nodes.
// Nodes are shown by their display names (GOSSIP_NAME, or the container's DNS name): a
// node's own comes in its /state, the others' in the cluster view; the address (the id)
// is in the title, shown on hover. A node too old to send a name is shown by its id.
import {
  $, ago, counterFrom, fmtClock, fmtDelay, fmtDuration, h, labeller, learnName, learnNames, nameOf, nodeSpan,
  plural, quote, setServerTime, tickAges,
} from "./common.js";

const params = new URLSearchParams(location.search);
const viewing = params.get("view"); // a peer's id, or null: this node
const base = viewing ? `proxy/${encodeURIComponent(viewing)}/` : "";
const CLUSTER_EVERY_MS = 2500;
const FEED_MAX = 300;
const STALE_AFTER_MS = 14000; // the node sends its state at least every 5 s

const S = {
  state: null, // the newest /state
  prev: null, // the one before (counter rates)
  cluster: null,
  ui: null, // ui.json of the node shown
  localId: null, // the node serving this page
  history: new Map(), // "origin@version" -> update (spread), while the page is open
  seenVersions: new Map(), // origin -> version last rendered
  changedAt: new Map(), // origin -> when its version last changed (row highlight)
  paused: false,
  parked: [], // events received while paused
  counts: {},
};

// --- small helpers -----------------------------------------------------------------
// An update's number in its origin's life ("#12"), when the cluster view knows it.
function counterOf(origin, version) {
  const node = S.cluster && S.cluster.nodes.find((n) => n.id === origin && n.reachable);
  return node ? counterFrom(node.generation, version) : null;
}
const updateLabel = (origin, version) => {
  const c = counterOf(origin, version);
  return c === null ? `v${version}` : `#${c}`;
};
// Where a link to a node's own view goes, from the page this browser is on.
function viewHref(id) {
  if (S.localId && id === S.localId) return "./";
  return `?view=${encodeURIComponent(id)}`;
}
// The newest version of `origin` anywhere: the cluster view's, or ours if that is newer.
function newestOf(origin) {
  let v = -1;
  if (S.cluster && S.cluster.newest[origin]) v = S.cluster.newest[origin].version;
  const mine = S.state && S.state.origins[origin];
  if (mine && mine.version > v) v = mine.version;
  return v;
}
function behindClass(behind, olderLife) {
  if (olderLife) return "old";
  if (behind === 0) return "ok";
  if (behind === 1) return "b1";
  if (behind <= 3) return "b2";
  return "b3";
}
function behindText(behind, olderLife) {
  if (olderLife) return "↺ older life";
  if (behind === 0) return "✓";
  return `−${behind}`;
}

// --- the connection ------------------------------------------------------------------
let source = null;
let reconnectTimer = null;
let lastFrame = 0;
function setConn(state, text) {
  const el = $("conn");
  el.dataset.state = state;
  $("conn-text").textContent = text;
}
function connect() {
  if (source) source.close();
  clearTimeout(reconnectTimer);
  setConn("connecting", "connecting…");
  source = new EventSource(base + "events");
  source.onopen = () => setConn("live", "live");
  source.addEventListener("state", (e) => { lastFrame = Date.now(); onState(JSON.parse(e.data)); });
  source.addEventListener("events", (e) => { lastFrame = Date.now(); onEvents(JSON.parse(e.data)); });
  source.addEventListener("dropped", (e) => {
    const d = JSON.parse(e.data);
    addNote(`${plural(d.frames, "batch", "batches")} of events skipped: this browser fell behind`);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // the browser gave up (an HTTP error, e.g. the peer is down): try again ourselves
      setConn("offline", "disconnected; retrying…");
      reconnectTimer = setTimeout(connect, 3000);
    } else {
      setConn("reconnecting", "reconnecting…");
    }
  };
}
setInterval(() => {
  if (lastFrame && Date.now() - lastFrame > STALE_AFTER_MS && source) {
    lastFrame = Date.now();
    setConn("offline", "no news from the node; reconnecting…");
    connect();
  }
}, 2000);

// --- this node -------------------------------------------------------------------------
function onState(s) {
  learnName(s.id, s.name);
  setServerTime(s.now);
  S.prev = S.state;
  S.state = s;
  renderMe(s);
  renderOrigins(s);
  renderPeers(s);
  // news arrived: look at the cluster again soon, to watch it spread
  const changed = !S.prev || Object.entries(s.origins).some(
    ([o, e]) => !S.prev.origins[o] || S.prev.origins[o].version !== e.version);
  if (changed) scheduleCluster(300);
}

function renderMe(s) {
  $("node-id").textContent = nameOf(s.id);
  $("node-id").title = s.id;
  document.title = `${s.movie ?? "…"} · ${nameOf(s.id)} · Gossip Lab`;
  $("me-h").textContent = viewing ? "The node viewed" : "This node";
  $("my-movie").textContent = s.movie ?? "none yet";
  $("my-version").textContent = String(s.version);
  $("my-counter").textContent = `#${s.counter} of this life`;
  $("my-generation").replaceChildren(
    h("span", { class: "num", text: String(s.generation) }),
    h("span", { class: "sub", text: `started ${new Date(s.started_at * 1000).toLocaleString()}` }));
  $("my-uptime").replaceChildren(h("span", { "data-uptime": s.started_at, text: fmtDuration(s.uptime_s) }));
  const boot = s.bootstrap ? nameOf(s.bootstrap) : "none (first node)";
  $("my-bootstrap").textContent = `${boot}${s.bootstrapped ? "" : " · not joined yet"}`;
  const pc = s.peer_counts || {};
  $("my-peers").textContent =
    `${pc.alive ?? 0} alive, ${pc.suspect ?? 0} suspect, ${pc.dead ?? 0} dead`;
  renderCounters(s);
}

const COUNTERS = [
  ["received", "received", "gossip messages in"],
  ["sent", "sent", "copies sent to peers"],
  ["applied", "applied", "first arrivals of news"],
  ["deduplicated", "deduplicated", "UUID already seen"],
  ["ttl_drops", "TTL drops", "applied, not forwarded"],
  ["stale", "stale", "older than known"],
  ["invalid", "invalid", "requests refused"],
  ["requests_sent", "requests sent", "push, sync, repair, probe"],
  ["requests_failed", "requests failed", "timeouts, refusals"],
  ["syncs", "syncs", "anti-entropy rounds"],
];
function renderCounters(s) {
  const c = s.counters || {};
  const p = S.prev && S.prev.counters;
  const dt = S.prev ? s.now - S.prev.now : 0;
  const items = COUNTERS.map(([key, label, why]) => {
    const v = c[key] ?? 0;
    const before = p ? p[key] ?? 0 : null;
    // no rate across a restart (the counters start again from zero)
    const rate = p && dt > 0.2 && v >= before && S.prev.started_at === s.started_at ? (v - before) / dt : null;
    let detail = why;
    if (key === "invalid" && c.invalid_by_reason && Object.keys(c.invalid_by_reason).length) {
      detail = Object.entries(c.invalid_by_reason).map(([r, n]) => `${r}: ${n}`).join(", ");
    }
    return h("div", { "data-counter": key },
      h("dt", { text: label }),
      h("dd", {}, String(v),
        rate === null ? null : h("span", { class: "rate", text: `(${rate.toFixed(1)}/s)` }),
        h("span", { class: "why", text: detail })));
  });
  $("counters").replaceChildren(...items);
}

function renderOrigins(s) {
  const rows = Object.entries(s.origins).map(([origin, e]) => {
    const newest = newestOf(origin);
    const behind = newest - e.version;
    const older = behind >= 2 ** 20;
    let status;
    if (!S.cluster && origin !== s.id) status = h("span", { class: "status missing", text: "… asking the cluster" });
    else if (behind <= 0) status = h("span", { class: "status ok", text: "✓ newest" });
    else status = h("span", { class: `status ${behindClass(behind, older)}`,
      text: older ? "↺ behind: older life" : `▲ behind by ${behind}` });
    const how = e.via === "local"
      ? "picked here"
      : `${e.via} from ${nameOf(e.sender)} · ${plural(e.hops ?? 0, "hop")}` +
        (e.sent_at ? ` · ${fmtDelay(e.learned_at - e.sent_at)}` : "");
    const seen = S.seenVersions.get(origin);
    S.seenVersions.set(origin, e.version);
    if (seen !== undefined && seen !== e.version) S.changedAt.set(origin, Date.now());
    const since = (Date.now() - (S.changedAt.get(origin) || 0)) / 1000;
    const flash = since < 2.5; // a re-render continues the highlight where it was
    return h("tr", { class: flash ? "changed" : null, "data-origin": origin,
      style: flash ? `--flash-delay:-${since.toFixed(2)}s` : null },
      h("td", { "data-label": "Origin" },
        nodeSpan(origin),
        origin === s.id ? h("span", { class: "tag", text: "this node" }) : null),
      h("td", { "data-label": "Favourite", class: "movie", text: e.movie }),
      h("td", { "data-label": "Version", class: "num" },
        h("span", { text: updateLabel(origin, e.version) }),
        h("span", { class: "sub", text: String(e.version) })),
      h("td", { "data-label": "Learned" },
        h("time", { datetime: new Date(e.learned_at * 1000).toISOString(), text: fmtClock(e.learned_at) }),
        h("span", { class: "sub" }, ago(e.learned_at))),
      h("td", { "data-label": "How", text: how }),
      h("td", { "data-label": "Status", class: "status-cell" }, status));
  });
  $("origin-table").tBodies[0].replaceChildren(...rows);
  const tomb = Object.entries(s.tombstones || {});
  $("tombstones").hidden = !tomb.length;
  $("tombstones").textContent = tomb.length
    ? `Departed origins dropped from state (tombstoned, so late gossip cannot bring them back): ${tomb.map(([o]) => nameOf(o)).join(", ")}`
    : "";
}

const HEALTH = { alive: "● alive", suspect: "◐ suspect", dead: "✕ dead", self: "◎ this node", candidate: "? candidate" };
function renderPeers(s) {
  const entries = Object.entries(s.peers);
  const candidates = s.candidates || [];
  const pc = s.peer_counts || {};
  const waiting = candidates.length ? `; ${plural(candidates.length, "candidate")} not yet heard from` : "";
  $("peer-summary").textContent = entries.length || candidates.length
    ? `${plural(entries.length, "peer")}: ${pc.alive ?? 0} alive, ${pc.suspect ?? 0} suspect, ${pc.dead ?? 0} dead${waiting}`
    : "No peers yet.";
  // a candidate was only named by someone: no health yet, and the proxy will not open it
  const candidateRows = candidates.map((peer) =>
    h("tr", { "data-peer": peer, class: "candidate" },
      h("td", { "data-label": "Peer", class: "id", title: peer, text: nameOf(peer) }),
      h("td", { "data-label": "Health" }, h("span", { class: "status health-candidate", text: HEALTH.candidate })),
      h("td", { "data-label": "Last heard", text: "never" }),
      h("td", { "data-label": "Failures", class: "num", text: "–" }),
      h("td", { "data-label": "View", text: "not a member yet" })));
  const rows = entries.map(([peer, p]) =>
    h("tr", { "data-peer": peer },
      h("td", { "data-label": "Peer", class: "id", title: peer, text: nameOf(peer) }),
      h("td", { "data-label": "Health" }, h("span", { class: `status health-${p.state}`, text: HEALTH[p.state] || p.state })),
      h("td", { "data-label": "Last heard" }, p.last_heard ? ago(p.last_heard) : "never"),
      h("td", { "data-label": "Failures", class: "num", text: String(p.failures) }),
      h("td", { "data-label": "View" },
        peer === S.localId && viewing ? h("a", { href: "./", text: "its own page" })
          : h("a", { href: viewHref(peer), text: "open its view", "aria-label": `open the view of ${nameOf(peer)}` }))));
  $("peer-table").tBodies[0].replaceChildren(...rows, ...candidateRows);
}

// --- the cluster -------------------------------------------------------------------------
let clusterTimer = null;
let clusterBusy = false;
let clusterDue = 0;
function scheduleCluster(ms) {
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

function renderMatrix(c) {
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

// --- the live feed ------------------------------------------------------------------------
const KINDS = {
  movie_changed: ["★", "favourite", "favourites"],
  update_applied: ["✓", "applied", "applied"],
  message_deduplicated: ["=", "duplicate", "duplicates"],
  ttl_drop: ["⌛", "TTL drop", "TTL drops"],
  stale_message: ["↓", "stale", "stale"],
  peer_state: ["◐", "peer", "peers"],
  bootstrap_ok: ["⇢", "joined", "peers"],
  bootstrap_failed: ["✕", "bootstrap", "peers"],
  origin_reaped: ["⌫", "reaped", "peers"],
  request_refused: ["⛔", "refused", "refused"],
};
const GROUPS = ["favourites", "applied", "duplicates", "TTL drops", "stale", "peers", "refused"];
const shown = new Set(GROUPS);
const groupOf = (kind) => (KINDS[kind] ? KINDS[kind][2] : "refused");

function describe(e) {
  const who = nameOf;
  const v = (origin, version) => updateLabel(origin, version);
  switch (e.kind) {
    case "movie_changed":
      return `picked ${quote(e.movie)} (update #${e.counter}${e.previous ? `, was ${quote(e.previous)}` : ""})`;
    case "update_applied":
      return `${who(e.origin)}: ${quote(e.movie)} (${v(e.origin, e.version)}) by ${e.via} from ${who(e.sender)}, ` +
        `${plural(e.hops, "hop")}${e.delay_s === null ? "" : `, ${fmtDelay(e.delay_s)} after the send`}, TTL left ${e.ttl}`;
    case "message_deduplicated":
      return `${who(e.origin)} ${v(e.origin, e.version)} again from ${who(e.sender)}: already seen, dropped`;
    case "ttl_drop":
      return `${who(e.origin)} ${v(e.origin, e.version)} applied but not forwarded: TTL spent`;
    case "stale_message":
      return `${who(e.origin)} ${v(e.origin, e.version)} from ${who(e.sender)}: older than the known ${v(e.origin, e.known)}`;
    case "peer_state":
      return e.old === null ? `${who(e.peer)}: new peer, ${e.new}` : `${who(e.peer)}: ${e.old} → ${e.new}`;
    case "bootstrap_ok":
      return `joined through ${who(e.via)}, ${plural(e.peers, "peer")} known`;
    case "bootstrap_failed":
      return `${who(e.via)} did not answer; retrying in ${fmtDuration(e.retry_in_s)}`;
    case "origin_reaped":
      return `${who(e.origin)} dropped from state: dead too long`;
    case "request_refused":
      return `${e.reason}: ${e.detail}${e.sender ? ` (from ${who(e.sender)})` : ""}`;
    default:
      return JSON.stringify(e);
  }
}

function feedItem(e) {
  const [icon, name] = KINDS[e.kind] || ["•", e.kind];
  const li = h("li", { class: `k-${e.kind}`, "data-kind": e.kind },
    h("time", { text: fmtClock(e.t) }),
    h("span", { class: "kind", text: `${icon} ${name}` }),
    h("span", { class: "what", text: describe(e) }));
  li.hidden = !shown.has(groupOf(e.kind));
  return li;
}
function addNote(text) {
  const list = $("feed-list");
  list.prepend(h("li", { class: "note-item" }, h("span", { class: "note", text })));
  trimFeed();
}
function trimFeed() {
  const list = $("feed-list");
  while (list.children.length > FEED_MAX) list.lastElementChild.remove();
}
function onEvents(batch) {
  for (const e of batch.events) S.counts[groupOf(e.kind)] = (S.counts[groupOf(e.kind)] || 0) + 1;
  renderFilterCounts();
  if (S.paused) {
    S.parked.push(batch);
    $("feed-note").textContent = `${S.parked.reduce((n, b) => n + b.events.length, 0)} new events waiting`;
    return;
  }
  showBatch(batch);
}
function showBatch(batch) {
  const list = $("feed-list");
  const items = batch.events.slice(-FEED_MAX).reverse().map(feedItem);
  list.prepend(...items);
  const omitted = Object.entries(batch.omitted || {});
  if (omitted.length) {
    addNote(`A burst: not shown ${omitted.map(([k, n]) => `${n} ${k}`).join(", ")}`);
  }
  trimFeed();
}
function renderFilters() {
  const box = $("filters");
  box.replaceChildren(...GROUPS.map((g) => {
    const input = h("input", { type: "checkbox", checked: shown.has(g), "data-group": g });
    input.addEventListener("change", () => {
      if (input.checked) shown.add(g); else shown.delete(g);
      for (const li of $("feed-list").children) {
        if (li.dataset.kind) li.hidden = !shown.has(groupOf(li.dataset.kind));
      }
    });
    return h("label", {}, input, g, h("span", { class: "count", "data-count": g, text: "0" }));
  }));
}
function renderFilterCounts() {
  for (const el of document.querySelectorAll("[data-count]")) {
    el.textContent = String(S.counts[el.dataset.count] || 0);
  }
}

// --- pick a new favourite ------------------------------------------------------------------
async function pick(ev) {
  ev.preventDefault();
  const button = $("pick-button");
  const result = $("pick-result");
  const movie = $("pick-movie").value.trim();
  const headers = { "Content-Type": "application/json" };
  const token = $("pick-token").value;
  if (token) headers.Authorization = `Bearer ${token}`;
  button.disabled = true;
  result.className = "result";
  result.textContent = "Publishing…";
  try {
    const r = await fetch(base + "favourite", {
      method: "POST", headers, body: movie ? JSON.stringify({ movie }) : null,
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      if (r.status === 401) { $("token-row").hidden = false; $("pick-token").focus(); }
      throw new Error(`${r.status}: ${data.error || r.statusText}`);
    }
    result.className = "result ok";
    result.textContent = `Now ${quote(data.movie)} (version ${data.version}). Watch it spread below.`;
    $("pick-movie").value = "";
    scheduleCluster(150);
  } catch (e) {
    result.className = "result error";
    result.textContent = `Not changed: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

async function loadUi() {
  try {
    const local = await (await fetch("ui.json", { cache: "no-store" })).json();
    S.localId = local.id;
    const ui = viewing ? await (await fetch(base + "ui.json", { cache: "no-store" })).json() : local;
    S.ui = ui;
    $("movie-list").replaceChildren(...ui.movies.map((m) => h("option", { value: m })));
    $("token-row").hidden = !ui.token_required;
    $("pick-node").textContent = ui.name || ui.id;
    $("pick-node").title = ui.id;
    if (S.state) { renderPeers(S.state); }
    if (S.cluster) renderMatrix(S.cluster);
  } catch (e) {
    $("pick-result").textContent = `Could not load this node's movies: ${e.message}`;
  }
}

// --- start -----------------------------------------------------------------------------
function start() {
  if (viewing) {
    $("viewing").hidden = false;
    $("title-kind").textContent = "Node";
    $("node-id").textContent = viewing;
    fetch("ui.json").then((r) => r.json()).then((u) => {
      $("local-id").textContent = u.name || u.id;
      $("local-id").title = u.id;
    }).catch(() => {});
    const links = ["state", "cluster", "events"].map((p) => h("a", { href: base + p, text: `/${p}` }));
    $("data-links").replaceChildren(`Data of ${viewing} (relayed): `,
      ...links.flatMap((a, i) => (i ? [" · ", a] : [a])));
  }
  renderFilters();
  $("pick").addEventListener("submit", pick);
  $("pause").addEventListener("click", () => {
    S.paused = !S.paused;
    $("pause").setAttribute("aria-pressed", String(S.paused));
    $("pause").textContent = S.paused ? "Resume" : "Pause";
    if (!S.paused) {
      for (const b of S.parked) showBatch(b);
      S.parked = [];
      $("feed-note").textContent = "";
    }
  });
  $("clear").addEventListener("click", () => $("feed-list").replaceChildren());
  document.addEventListener("visibilitychange", () => { if (!document.hidden) scheduleCluster(0); });
  setInterval(tickAges, 1000);
  loadUi();
  connect();
  scheduleCluster(0);
}
start();
