// "This node": its favourite, version, generation, uptime, bootstrap, peers and counters
// (with rates), the form that picks a new favourite, and what the node's ui.json tells the
// page (its movies, whether it wants a token).

import { $, fmtDuration, h, nameOf, quote } from "./common.js";
import { renderMatrix, scheduleCluster } from "./app-cluster.js";
import { renderPeers } from "./app-known.js";
import { base, S, viewing } from "./app-state.js";

export function renderMe(s) {
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


// --- pick a new favourite ------------------------------------------------------------------
export async function pick(ev) {
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

export async function loadUi() {
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
