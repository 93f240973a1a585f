// The node page's state: which node it shows (this one, or a peer's `?view=` through this
// node's proxy), what it last heard from it (`S`), and the small facts the sections share
// (an update's label, the newest version of an origin, how far behind is shown how).

import { counterFrom } from "./common.js";

const params = new URLSearchParams(location.search);
export const viewing = params.get("view"); // a peer's id, or null: this node
export const base = viewing ? `proxy/${encodeURIComponent(viewing)}/` : "";

export const S = {
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

// --- facts the sections share --------------------------------------------------------
// An update's number in its origin's life ("#12"), when the cluster view knows it.
function counterOf(origin, version) {
  const node = S.cluster && S.cluster.nodes.find((n) => n.id === origin && n.reachable);
  return node ? counterFrom(node.generation, version) : null;
}
export const updateLabel = (origin, version) => {
  const c = counterOf(origin, version);
  return c === null ? `v${version}` : `#${c}`;
};
// Where a link to a node's own view goes, from the page this browser is on.
export function viewHref(id) {
  if (S.localId && id === S.localId) return "./";
  return `?view=${encodeURIComponent(id)}`;
}
// The newest version of `origin` anywhere: the cluster view's, or ours if that is newer.
export function newestOf(origin) {
  let v = -1;
  if (S.cluster && S.cluster.newest[origin]) v = S.cluster.newest[origin].version;
  const mine = S.state && S.state.origins[origin];
  if (mine && mine.version > v) v = mine.version;
  return v;
}
export function behindClass(behind, olderLife) {
  if (olderLife) return "old";
  if (behind === 0) return "ok";
  if (behind === 1) return "b1";
  if (behind <= 3) return "b2";
  return "b3";
}
export function behindText(behind, olderLife) {
  if (olderLife) return "↺ older life";
  if (behind === 0) return "✓";
  return `−${behind}`;
}
