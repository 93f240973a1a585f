// What the node knows: every origin's favourite as this node has it (when and how it came,
// whether it is the newest anywhere), its departed origins, and its peers and candidates.

import { $, ago, fmtClock, fmtDelay, h, nameOf, nodeSpan, plural } from "./common.js";
import { behindClass, newestOf, S, updateLabel, viewHref, viewing } from "./app-state.js";

export function renderOrigins(s) {
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

export const HEALTH = { alive: "● alive", suspect: "◐ suspect", dead: "✕ dead", self: "◎ this node", candidate: "? candidate" };
export function renderPeers(s) {
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
