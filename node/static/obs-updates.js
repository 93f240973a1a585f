// Starting updates from the page (one, or two racing) at any node, through this node's
// proxy, and choosing the update shown and the one it races against.

import { $, fmtClock, labeller, nameOf, quote } from "./common.js";
import { O, counterOf, fillSelect, findUpdate, refresh, schedulePoll, token, view } from "./obs-view.js";

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

export function renderControls(v) {
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

export function setupUpdates() {
  $("obs-start").addEventListener("submit", startUpdate);
  $("obs-race").addEventListener("submit", startRace);
  $("follow").addEventListener("change", (e) => { O.follow = e.target.value; refresh(true); });
  $("compare").addEventListener("change", (e) => {
    const v = view();
    const a = O.follow || (v && v.updates[0] ? v.updates[0].uuid : "");
    O.race = e.target.value && a ? { a, b: e.target.value } : null;
    if (O.race) O.follow = a;
    refresh(true);
  });
}
