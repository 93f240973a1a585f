// Shared by every module of the page: building DOM and SVG elements, formatting numbers,
// times and counts, and showing nodes by name. Owns the one map of display names.
//
// It must not touch the document when imported (node's test runner imports it), and it
// never puts text from the network in the page as HTML: `h()` and `s()` set textContent.

const SVGNS = "http://www.w3.org/2000/svg";
// Props that `h()` sets as attributes; any other goes on the element as a property.
const ATTRIBUTES = new Set(["title", "href", "colspan", "scope", "datetime", "role", "for", "download"]);

export const $ = (id) => document.getElementById(id);

// An HTML element: h("td", {class: "num", text: "3"}, child, ...). A null, undefined or
// false prop or child is left out.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || ATTRIBUTES.has(k)) el.setAttribute(k, v);
    else el[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// An SVG element: every prop is an attribute, but `text`.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c) el.append(c);
  return el;
}

// --- words and numbers ---------------------------------------------------------------
export const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + "s"}`;
export const quote = (movie) => (movie === null || movie === undefined ? "—" : `“${movie}”`);

// A long duration: "4.2 s", "3 min 12 s", "2 h 5 min", "1 d 3 h".
export function fmtDuration(x) {
  if (x === null || x === undefined || !isFinite(x)) return "—";
  x = Math.max(0, x);
  if (x < 10) return `${x.toFixed(1)} s`;
  if (x < 60) return `${Math.floor(x)} s`;
  if (x < 3600) return `${Math.floor(x / 60)} min ${Math.floor(x % 60)} s`;
  if (x < 86400) return `${Math.floor(x / 3600)} h ${Math.floor((x % 3600) / 60)} min`;
  return `${Math.floor(x / 86400)} d ${Math.floor((x % 86400) / 3600)} h`;
}

// A short delay, to the precision it deserves: "0.25 ms", "40 ms", "1.25 s", "12.3 s".
export function fmtDelay(x) {
  if (x === null || x === undefined || !isFinite(x)) return "—";
  const a = Math.abs(x);
  if (a === 0) return "0";
  if (a < 0.001) return `${(x * 1000).toFixed(2)} ms`;
  if (a < 1) return `${Math.round(x * 1000)} ms`;
  if (a < 60) return `${x.toFixed(a < 10 ? 2 : 1)} s`;
  return `${Math.floor(x / 60)} min ${Math.round(x % 60)} s`;
}

// A time of day (seconds since the epoch, the browser's time zone): "14:03:07.250".
export function fmtClock(t, ms = true) {
  if (!t) return "—";
  const d = new Date(t * 1000);
  const two = (n) => String(n).padStart(2, "0");
  const hms = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return ms ? `${hms}.${String(d.getMilliseconds()).padStart(3, "0")}` : hms;
}

// --- the server's clock ----------------------------------------------------------------
let offset = 0; // server clock - browser clock, seconds
export function setServerTime(now) { offset = now - Date.now() / 1000; }
export const serverNow = () => Date.now() / 1000 + offset;
// A <span> that keeps saying how long ago `t` (server clock) was (see `tickAges`).
export const ago = (t) => h("span", { "data-since": t, text: `${fmtDuration(serverNow() - t)} ago` });
// Brings every `ago` and uptime on the page up to now.
export function tickAges() {
  const now = serverNow();
  for (const el of document.querySelectorAll("[data-since]")) {
    el.textContent = `${fmtDuration(now - Number(el.dataset.since))} ago`;
  }
  for (const el of document.querySelectorAll("[data-uptime]")) {
    el.textContent = fmtDuration(now - Number(el.dataset.uptime));
  }
}

// --- nodes by name ---------------------------------------------------------------------
// Nodes are shown by their display names (GOSSIP_NAME, or the container's DNS name), as
// they report them; the address (the id) is in the title. A node without a name (an older
// node, a record without names) is shown by its id, or a short form of it.
const names = new Map(); // id -> display name

export function learnName(id, name) {
  if (typeof name === "string" && name) names.set(id, name);
}
export function learnNames(nodes) {
  for (const n of nodes || []) learnName(n.id, n.name);
}
export const nameOf = (id) => (id ? names.get(id) || id : "?");
// A node shown by name, its address on hover.
export const nodeSpan = (id, cls = "id") => h("span", { class: cls, title: id, text: nameOf(id) });

// Short labels for ids: the name when known; else ":7001" when every node shares a host,
// the host when every node shares a port (Docker), else the whole id.
export function labeller(ids) {
  const cut = (id) => [id.slice(0, id.lastIndexOf(":")), id.slice(id.lastIndexOf(":") + 1)];
  const hosts = new Set(ids.map((id) => cut(id)[0]));
  const ports = new Set(ids.map((id) => cut(id)[1]));
  let short = (id) => id;
  if (ids.length > 1 && hosts.size === 1) short = (id) => `:${cut(id)[1]}`;
  else if (ids.length > 1 && ports.size === 1) short = (id) => cut(id)[0];
  return (id) => (id ? names.get(id) || short(id) : "?");
}

// Versions of one life of a node start at its generation (node/core: VERSION_TICKS_PER_S
// per second of its start time), so an update's number in that life is the difference.
export const VERSION_TICKS_PER_S = 2 ** 20;
// The update's number in its origin's life, or null when the generation does not tell.
export function counterFrom(generation, version) {
  const c = Number.isInteger(generation) ? version - generation : null;
  return c !== null && c >= 0 && c < VERSION_TICKS_PER_S ? c : null;
}
