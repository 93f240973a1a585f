// The observatory: the cluster drawn live or replayed, who told whom, the spread against
// the model, faults from the page, and record / replay. This module is its loop: it polls
// the node's `observatory` (every node's own records of first arrivals and copies,
// gathered and merged by the node: node/genealogy.py), keeps the live convergence samples,
// and redraws every view from one `view()` (obs-view.js), so a replay is drawn by the code
// that draws the live cluster. Each view is its own module (obs-*.js); text from the
// network goes in as textContent only.

import { $, fmtClock, learnNames } from "./common.js";
import { convergence } from "./replay.js";
import { showReplay } from "./app-cluster.js";
import { O, assignColours, seekTo, setLoop, view } from "./obs-view.js";
import { renderCurve } from "./obs-curve.js";
import { noteToken, renderFaults, setupFaults } from "./obs-faults.js";
import { renderGenealogy } from "./obs-genealogy.js";
import { renderGraph, setupCutDrawing } from "./obs-graph.js";
import { renderInspector, setupInspector } from "./obs-inspector.js";
import { renderRace } from "./obs-race.js";
import { backToLive, renderMode, renderPlayer, setupReplay, startReplay } from "./obs-replay-view.js";
import { renderTimeline } from "./obs-timeline.js";
import { renderControls, setupUpdates } from "./obs-updates.js";

const RENDER_EVERY_MS = 120; // a playing replay redraws at most this often
const FAST_POLL_MS = 400;
const POLL_MS = 1500;
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
    if (force || now - (O.lastMatrix || 0) > 400) {
      O.lastMatrix = now;
      showReplay(O.replay.cluster(O.rt), `Replay at ${fmtClock(O.rt)}`);
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
    const c = convergence(new Map(data.nodes.filter((n) => n.reachable).map((n) => [n.id, { up: true, origins: n.origins }])));
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
  fetch("ui.json").then((r) => r.json()).then((u) => {
    O.localId = u.id;
    O.tokenRequired = u.token_required;
    noteToken(u.token_required);
  }).catch(() => {});
  setupCutDrawing();
  setupUpdates();
  setupInspector();
  setupFaults();
  setupReplay();
  setLoop(renderAll, schedulePoll);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) schedulePoll(0); });
  let resizeTimer = null;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => renderAll(true), 150); });
  schedulePoll(0);
}

// for tests and the curious: the state of the observatory
window.GossipObservatory = { state: O, view, seekTo, startReplay, backToLive };
start();
