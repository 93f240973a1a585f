// The node's page: what this node knows, live, and the whole cluster as this node sees it.
// This module is its entry: the connection (one SSE stream of the node's state and events,
// reconnected when it goes quiet) and the start; each section is its own module: app-node
// (this node and the pick form), app-known (origins and peers), app-cluster (the matrix and
// the spread), app-feed (the live feed), sharing app-state.
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

import { $, h, learnName, plural, setServerTime, tickAges } from "./common.js";
import { scheduleCluster } from "./app-cluster.js";
import { addNote, onEvents, setupFeed } from "./app-feed.js";
import { renderOrigins, renderPeers } from "./app-known.js";
import { loadUi, pick, renderMe } from "./app-node.js";
import { base, S, viewing } from "./app-state.js";

const STALE_AFTER_MS = 14000; // the node sends its state at least every 5 s

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
  setupFeed();
  $("pick").addEventListener("submit", pick);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) scheduleCluster(0); });
  setInterval(tickAges, 1000);
  loadUi();
  connect();
  scheduleCluster(0);
}
start();
