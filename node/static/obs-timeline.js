// The timeline: the updates (click one to show it), the share of (node, origin) pairs up to
// date, and each node's faults as bands, over the live window or the whole record; in a
// replay, a click on it seeks there.

import { $, fmtClock, labeller, nameOf, quote, s } from "./common.js";
import { O, colourOf, niceStep, refresh, seekTo, selected, sizeOf, svgPoint } from "./obs-view.js";

// --- the timeline: updates, convergence and faults over time ---------------------------
export function renderTimeline(v) {
  const svg = $("timeline");
  const TW = sizeOf(svg, 1000);
  const [w0, w1] = v.window;
  const span = Math.max(w1 - w0, 1e-3);
  const L = TW < 500 ? 84 : 124, Rm = 10;
  const X = (t) => L + ((t - w0) / span) * (TW - L - Rm);
  const rows = [];
  for (const n of v.nodes) {
    const sp = (v.spans.get(n.id) || []).filter((x) => (x.to === null || x.to >= w0) && x.from <= w1);
    if (sp.length) rows.push([n.id, sp]);
  }
  const shownRows = rows.slice(0, 10);
  const H = 24 + 26 + 56 + shownRows.length * 18 + (rows.length > 10 ? 18 : 0) + 8;
  svg.setAttribute("viewBox", `0 0 ${TW} ${H}`);
  const out = [];
  const label = labeller(v.nodes.map((x) => x.id));
  // time axis
  const step = niceStep(span, Math.max(Math.floor(TW / 130), 2));
  for (let t = Math.ceil(w0 / step) * step; t <= w1; t += step) {
    out.push(s("line", { x1: X(t), x2: X(t), y1: 18, y2: H - 6, class: "grid" }));
    out.push(s("text", { x: X(t), y: 13, "text-anchor": "middle", class: "tick", text: fmtClock(t, step < 1) }));
  }
  // updates
  let y = 24;
  out.push(s("text", { x: L - 8, y: y + 15, "text-anchor": "end", class: "row-label", text: "updates" }));
  for (const u of v.timeline) {
    if (u.sent_at < w0 || u.sent_at > w1) continue;
    const chosen = selected(v);
    const c = s("circle", { cx: X(u.sent_at), cy: y + 11, r: chosen && chosen.uuid === u.uuid ? 7 : 4.5, fill: colourOf(u.movie),
      class: `tl-update${chosen && chosen.uuid === u.uuid ? " chosen" : ""}`, tabindex: "0", role: "button",
      "aria-label": `update of ${u.origin}, ${quote(u.movie)} at ${fmtClock(u.sent_at)}: show its genealogy` },
    s("title", { text: `${nameOf(u.origin)} (${u.origin}): ${quote(u.movie)} at ${fmtClock(u.sent_at)}` }));
    const pick = () => { O.follow = u.uuid; refresh(true); };
    c.addEventListener("click", (e) => { e.stopPropagation(); pick(); });
    c.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
    out.push(c);
  }
  y += 26;
  // convergence: the fraction of (node, origin) pairs up to date
  out.push(s("text", { x: L - 8, y: y + 20, "text-anchor": "end", class: "row-label", text: "up to date" }));
  if (L >= 100) out.push(s("text", { x: L - 8, y: y + 34, "text-anchor": "end", class: "row-sub", text: "(node, origin) pairs" }));
  const pts = v.conv.filter((p) => p.t >= w0 && p.t <= w1);
  const Yc = (f) => y + 50 - f * 46;
  out.push(s("line", { x1: L, x2: TW - Rm, y1: Yc(1), y2: Yc(1), class: "grid" }));
  if (pts.length) {
    let d = `M${X(pts[0].t).toFixed(1)},${Yc(0)}`;
    for (const p of pts) d += `L${X(p.t).toFixed(1)},${Yc(p.frac).toFixed(1)}`;
    d += `L${X(pts[pts.length - 1].t).toFixed(1)},${Yc(0)}Z`;
    out.push(s("path", { d, class: "conv" }));
  }
  y += 56;
  // fault bands, per node
  for (const [id, sp] of shownRows) {
    out.push(s("text", { x: L - 8, y: y + 12, "text-anchor": "end", class: "row-label", text: label(id) }));
    for (const x of sp) {
      const a = X(Math.max(x.from, w0)), b = X(Math.min(x.to ?? w1, w1));
      const f = x.faults;
      const words = [];
      if (f.blocked && f.blocked.length) words.push(`✂ blocks ${f.blocked.length}`);
      if (f.drop) words.push(`drop ${Math.round(f.drop * 100)} %`);
      if (f.duplicate) words.push(`dup ${Math.round(f.duplicate * 100)} %`);
      if (f.delay_ms || f.jitter_ms) words.push(`+${Math.round(f.delay_ms)}±${Math.round(f.jitter_ms)} ms`);
      const band = s("g", { class: `band${f.blocked && f.blocked.length ? " band-cut" : ""}` },
        s("rect", { x: a, y: y + 1, width: Math.max(b - a, 2), height: 14, rx: 3 }),
        s("title", { text: `${id}: ${words.join(", ")} from ${fmtClock(x.from)}${x.to ? ` to ${fmtClock(x.to)}` : " (still on)"}` }));
      if (b - a > 60) band.append(s("text", { x: a + 5, y: y + 12, class: "band-text", text: words.join(", ") }));
      out.push(band);
    }
    y += 18;
  }
  if (rows.length > 10) {
    out.push(s("text", { x: L - 8, y: y + 12, "text-anchor": "end", class: "row-label", text: `+${rows.length - 10} more` }));
    y += 18;
  }
  if (!rows.length) out.push(s("text", { x: L, y: y + 2, class: "row-sub", text: "no faults in this window" }));
  if (v.replay) {
    out.push(s("line", { x1: X(O.rt), x2: X(O.rt), y1: 16, y2: H - 2, class: "cursor" }));
  }
  svg.replaceChildren(...out);
  svg.onclick = v.replay ? (e) => {
    const p = svgPoint(svg, e);
    seekTo(w0 + ((p.x - L) / (TW - L - Rm)) * span);
  } : null;
}
