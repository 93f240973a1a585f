// The live feed: the node's events as they happen (SSE), newest first, with filters by
// kind and their counts, pause and clear, and a note when a burst was thinned or skipped.

import { $, fmtClock, fmtDelay, fmtDuration, h, nameOf, plural, quote } from "./common.js";
import { S, updateLabel } from "./app-state.js";

const FEED_MAX = 300;

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
export function addNote(text) {
  const list = $("feed-list");
  list.prepend(h("li", { class: "note-item" }, h("span", { class: "note", text })));
  trimFeed();
}
function trimFeed() {
  const list = $("feed-list");
  while (list.children.length > FEED_MAX) list.lastElementChild.remove();
}
export function onEvents(batch) {
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


export function setupFeed() {
  renderFilters();
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
}
