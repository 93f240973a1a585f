// Record and replay: recording the live cluster, gathering or loading a record, the
// player (play, step, seek, speed) and its words for each line, the check that a replay
// ends where the record says each node ended, and saving the record. While it replays,
// the node page's matrix shows the replay's cluster (app.js: showReplay, pauseLive).

import { $, fmtClock, fmtDelay, h, labeller, plural, quote } from "./common.js";
import { faultsActive, load } from "./replay.js";
import { pauseLive } from "./app-cluster.js";
import { O, refresh, schedulePoll, seekTo } from "./obs-view.js";

const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];

export function renderMode(v) {
  const el = $("obs-mode");
  el.dataset.mode = O.mode;
  if (O.mode === "live") {
    el.textContent = O.recordingSince ? `● Recording since ${fmtClock(O.recordingSince, false)}` : "● Live";
    if (O.recordingSince) el.dataset.mode = "recording";
  } else {
    const rp = O.replay;
    el.textContent = `▶ Replay of ${rp.name}: ${fmtClock(O.rt)} (${fmtDelay(O.rt - rp.t0)} of ${fmtDelay(rp.t1 - rp.t0)})`;
  }
  $("record-start").hidden = O.mode !== "live" || !!O.recordingSince;
  $("record-stop").hidden = O.mode !== "live" || !O.recordingSince;
  $("replay-last").disabled = O.mode !== "live";
  $("player").hidden = O.mode !== "replay";
  $("back-live").hidden = O.mode !== "replay";
}

export function renderPlayer() {
  const rp = O.replay;
  if (!rp) return;
  const span = Math.max(rp.t1 - rp.t0, 1e-6);
  const scrub = $("scrub");
  if (document.activeElement !== scrub || O.playing) scrub.value = String(Math.round(((O.rt - rp.t0) / span) * 1000));
  scrub.setAttribute("aria-valuetext", `${fmtClock(O.rt)}, ${fmtDelay(O.rt - rp.t0)} into the record`);
  $("play").textContent = O.playing ? "⏸ Pause" : "▶ Play";
  $("play").setAttribute("aria-pressed", String(O.playing));
  $("replay-time").textContent = `${fmtClock(O.rt)} · ${fmtDelay(O.rt - rp.t0)} of ${fmtDelay(span)}`;
  const line = rp.lineAt(O.rt);
  $("replay-event").textContent = line ? describeLine(line, rp) : "The start of the record.";
}
function describeLine(l, rp) {
  const label = labeller(rp.ids);
  const who = label(l.node);
  switch (l.kind) {
    case "movie_changed": return `${fmtClock(l.t)} ${who} picked ${quote(l.movie)}`;
    case "update_applied": return `${fmtClock(l.t)} ${who} learned ${label(l.origin)}'s ${quote(l.movie)} from ${label(l.sender)} (hop ${l.hops}, ${l.via})`;
    case "message_deduplicated": return `${fmtClock(l.t)} ${who} got ${label(l.origin)}'s news again from ${label(l.sender)}: a duplicate`;
    case "stale_message": return `${fmtClock(l.t)} ${who} got an older version of ${label(l.origin)} from ${label(l.sender)}: stale`;
    case "ttl_drop": return `${fmtClock(l.t)} ${who} did not forward ${label(l.origin)}'s news: TTL spent`;
    case "peer_state": return `${fmtClock(l.t)} ${who} sees ${label(l.peer)}: ${l.old ?? "new"} → ${l.new}`;
    case "faults_set": return `${fmtClock(l.t)} ${who} faults: ${faultsActive(l) ? [l.blocked && l.blocked.length ? `blocks ${l.blocked.length}` : "", l.drop ? `drop ${Math.round(l.drop * 100)} %` : "", l.duplicate ? `dup ${Math.round(l.duplicate * 100)} %` : "", l.delay_ms ? `delay ${l.delay_ms} ms` : ""].filter(Boolean).join(", ") : "none (healed)"}`;
    case "node_started": return `${fmtClock(l.t)} ${who} started`;
    case "node_stopped": return `${fmtClock(l.t)} ${who} stopped`;
    case "snapshot": return `${fmtClock(l.t)} ${who}: what it knew (a checkpoint)`;
    default: return `${fmtClock(l.t)} ${who} ${l.kind}`;
  }
}

export function startReplay(text, name) {
  let rp;
  try {
    rp = load(text, name);
  } catch (e) {
    $("record-result").className = "result error";
    $("record-result").textContent = `Could not load ${name}: ${e.message}`;
    return;
  }
  O.replay = rp;
  $("obs-result").textContent = "";
  O.recordText = text;
  O.recordName = name;
  O.mode = "replay";
  O.rt = rp.t0;
  O.playing = false;
  O.follow = "";
  O.race = null;
  O.inspect = null;
  O.groups = new Map();
  const check = rp.endCheck();
  const res = $("record-result");
  const bits = [`Loaded ${name}: ${plural(rp.ids.length, "node")}, ${plural(rp.lines.length, "line")}, ${fmtDelay(rp.t1 - rp.t0)} (${rp.source === "simulator" ? "a simulated run" : "a live cluster"}).`];
  if (rp.bad) bits.push(`${plural(rp.bad, "line")} skipped (not record lines).`);
  if ((rp.header.missing && Object.keys(rp.header.missing).length)) bits.push(`Missing nodes: ${Object.keys(rp.header.missing).join(", ")}.`);
  res.className = "result ok";
  res.textContent = bits.join(" ");
  const ec = $("end-check");
  ec.dataset.agree = String(check.differ.length === 0 && check.checked > 0);
  ec.className = check.differ.length ? "result error" : "result ok";
  ec.textContent = check.checked
    ? check.differ.length
      ? `✕ Replayed to the end, ${plural(check.differ.length, "node")} differ from the state the record ended with: ${check.differ.map((d) => d.node).join(", ")}.`
      : `✓ Replayed to the end, every node (${check.agree.length}) is in the state the record ended with.`
    : "The record has no end state to check against.";
  pauseLive(true);
  refresh(true);
}
export function backToLive() {
  O.mode = "live";
  O.playing = false;
  O.follow = "";
  O.race = null;
  O.groups = new Map();
  pauseLive(false);
  schedulePoll(0);
  refresh(true);
}
let rafLast = 0;
function tick(ts) {
  if (!O.playing || O.mode !== "replay") { rafLast = 0; return; }
  const dt = rafLast ? Math.min((ts - rafLast) / 1000, 0.25) : 0;
  rafLast = ts;
  const rp = O.replay;
  let t = O.rt + dt * O.speed;
  if ($("skip-quiet").checked) {
    const next = rp.nextLine(O.rt);
    if (next && next.t - O.rt > 1.5) t = Math.max(t, next.t - 0.5); // a quiet stretch: on to the next event
  }
  O.rt = Math.min(t, rp.t1);
  if (O.rt >= rp.t1) O.playing = false;
  refresh(!O.playing); // the last frame in full
  requestAnimationFrame(tick);
}
async function fetchRecord(query, name) {
  const res = $("record-result");
  res.className = "result";
  res.textContent = "Gathering every node's record…";
  try {
    const r = await fetch(`observatory/record?${query}`, { cache: "no-store" });
    const text = await r.text();
    if (!r.ok) throw new Error(text.slice(0, 200) || `HTTP ${r.status}`);
    startReplay(text, name);
  } catch (e) {
    res.className = "result error";
    res.textContent = `Could not get the record: ${e.message}`;
  }
}
function saveRecord() {
  if (!O.recordText) return;
  const blob = new Blob([O.recordText], { type: "application/x-ndjson" });
  const a = h("a", { href: URL.createObjectURL(blob), download: O.recordName.endsWith(".jsonl") ? O.recordName : `${O.recordName}.jsonl` });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
function stamp(t) {
  const d = new Date(t * 1000);
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}-${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`;
}

export function setupReplay() {
  $("record-start").addEventListener("click", () => {
    O.recordingSince = (O.live && O.live.now) || Date.now() / 1000;
    $("record-result").className = "result";
    $("record-result").textContent = "Recording: every node keeps its own record; stop to gather them and replay.";
    refresh(true);
  });
  $("record-stop").addEventListener("click", () => {
    const since = O.recordingSince;
    O.recordingSince = null;
    fetchRecord(`since=${since}`, `gossip-record-${stamp(since)}`);
  });
  $("replay-last").addEventListener("click", () => {
    const last = Number($("replay-span").value) || 300;
    const now = (O.live && O.live.now) || Date.now() / 1000;
    fetchRecord(`last=${last}`, `gossip-record-${stamp(now - last)}`);
  });
  $("record-file").addEventListener("change", async (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    startReplay(await file.text(), file.name);
    e.target.value = "";
  });
  $("save-record").addEventListener("click", saveRecord);
  $("back-live").addEventListener("click", backToLive);
  $("play").addEventListener("click", () => {
    if (!O.replay) return;
    if (O.rt >= O.replay.t1) O.rt = O.replay.t0;
    O.playing = !O.playing;
    refresh(true);
    if (O.playing) requestAnimationFrame(tick);
  });
  $("to-start").addEventListener("click", () => { O.playing = false; seekTo(O.replay.t0); });
  $("to-end").addEventListener("click", () => { O.playing = false; seekTo(O.replay.t1); });
  $("step-next").addEventListener("click", () => {
    O.playing = false;
    const l = O.replay.nextLine(O.rt);
    seekTo(l ? l.t : O.replay.t1);
  });
  $("step-prev").addEventListener("click", () => {
    O.playing = false;
    const l = O.replay.prevLine(O.rt);
    seekTo(l ? l.t : O.replay.t0);
  });
  $("speed").replaceChildren(...SPEEDS.map((x) => h("option", { value: x, text: `${x}×`, selected: x === 1 })));
  $("speed").addEventListener("change", (e) => { O.speed = Number(e.target.value) || 1; });
  $("scrub").addEventListener("input", (e) => {
    const rp = O.replay;
    if (!rp) return;
    O.playing = false;
    seekTo(rp.t0 + (Number(e.target.value) / 1000) * (rp.t1 - rp.t0));
  });
}
