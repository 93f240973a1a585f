// The spread against the model: the fraction of nodes that know the update shown over
// time (a step line), Serf's model for this cluster's size, fanout, time per hop and loss
// (model.js), the updates before it faintly, and the verdict in words with the lagging nodes.

import { $, fmtDelay, h, labeller, nameOf, plural, quote, s } from "./common.js";
import { serfFraction, serfTime } from "./model.js";
import { counterOf, inspect, niceStep, selected, sizeOf, verdict } from "./obs-view.js";

// --- drawing: the spread against the model ---------------------------------------------
let CW = 640, CH = 250;
const CM = { l: 46, r: 14, t: 14, b: 36 };
export function renderCurve(v) {
  const svg = $("curve");
  CW = sizeOf(svg, 640);
  CH = CW < 500 ? 220 : 260;
  svg.setAttribute("viewBox", `0 0 ${CW} ${CH}`);
  const u = selected(v);
  const caption = $("curve-title");
  const verdictEl = $("curve-verdict");
  if (!u) {
    svg.replaceChildren(s("text", { x: CW / 2, y: CH / 2, "text-anchor": "middle", class: "empty", text: "No update seen yet: start one above." }));
    caption.textContent = "";
    verdictEl.textContent = "";
    verdictEl.className = "verdict";
    return;
  }
  const m = v.model;
  const n = Math.max(u.of, 1);
  const period = m.period_s || (v.config && v.config.push_interval_s) || 0.01;
  const t99 = serfTime(0.99, n, m.fanout, period, m.loss);
  const elapsed = Math.max(v.now - u.sent_at, 0);
  const delays = Object.values(u.nodes).filter((x) => x.t !== null).map((x) => Math.max(x.delay_s || 0, 0)).sort((a, b) => a - b);
  const last = delays.length ? delays[delays.length - 1] : 0;
  let tmax = Math.max(t99 * 1.3, last * 1.15, 0.005);
  if (u.pending.length) tmax = Math.max(tmax, elapsed * 1.05);
  const X = (t) => CM.l + (Math.min(t, tmax) / tmax) * (CW - CM.l - CM.r);
  const Y = (f) => CH - CM.b - f * (CH - CM.t - CM.b);
  const out = [];
  // grid and axes
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    out.push(s("line", { x1: CM.l, x2: CW - CM.r, y1: Y(f), y2: Y(f), class: f === 0 || f === 1 ? "axis" : "grid" }));
    out.push(s("text", { x: CM.l - 6, y: Y(f) + 4, "text-anchor": "end", class: "tick", text: `${f * 100}%` }));
  }
  const step = niceStep(tmax, CW < 500 ? 3 : 5);
  for (let t = 0; t <= tmax + 1e-12; t += step) {
    out.push(s("line", { x1: X(t), x2: X(t), y1: Y(0), y2: Y(0) + 4, class: "axis" }));
    const edge = X(t) > CW - CM.r - 24;
    out.push(s("text", { x: X(t), y: Y(0) + 17, "text-anchor": edge ? "end" : "middle", class: "tick", text: fmtDelay(t) }));
  }
  out.push(s("text", { x: (CW + CM.l) / 2, y: CH - 2, "text-anchor": "middle", class: "axis-title", text: "time since the send" }));
  // earlier updates, faintly
  const others = v.updates.filter((x) => x.uuid !== u.uuid).slice(0, 4);
  for (const o of others) out.push(s("path", { d: stepPath(o, X, Y, Math.max(v.now - o.sent_at, 0), tmax), class: "measured-old" }));
  // the model
  let d = "";
  for (let i = 0; i <= 120; i += 1) {
    const t = (tmax * i) / 120;
    d += `${i ? "L" : "M"}${X(t).toFixed(1)},${Y(serfFraction(t, n, m.fanout, period, m.loss)).toFixed(1)}`;
  }
  out.push(s("path", { d, class: "model" }, s("title", { text: "the Serf model's prediction" })));
  out.push(s("line", { x1: X(t99), x2: X(t99), y1: Y(0), y2: Y(0.99), class: "model-mark" }));
  // the measurement
  out.push(s("path", { d: stepPath(u, X, Y, elapsed, tmax), class: "measured" }, s("title", { text: "measured: the fraction of nodes that know this update" })));
  delays.forEach((t, i) => out.push(s("circle", { cx: X(t), cy: Y((i + 1) / n), r: 3, class: "measured-dot" })));
  if (u.pending.length && !v.replay) out.push(s("line", { x1: X(elapsed), x2: X(elapsed), y1: Y(0), y2: Y(1), class: "now-mark" }));
  svg.replaceChildren(...out);
  caption.textContent = `${nameOf(u.origin)}'s ${counterOf(v, u.origin, u.version)} ${quote(u.movie)}: ${u.reached} of ${u.of} nodes. ` +
    `Model: ${plural(n, "node")}, fanout ${m.fanout}, ${m.period_s ? `a hop every ${fmtDelay(m.period_s)} (measured)` : `${fmtDelay(period)} a hop (assumed)`}, ` +
    `loss ${Math.round(m.loss * 100)} %.`;
  const vd = verdict(v, u);
  verdictEl.className = `verdict ${vd.kind}`;
  verdictEl.replaceChildren(vd.text);
  verdictEl.dataset.kind = vd.kind;
  if (vd.kind === "behind") {
    // the lagging nodes, by reason: a few named (each opens its view), the rest counted
    const label = labeller(v.nodes.map((x) => x.id));
    const byWhy = new Map();
    for (const { id, why } of vd.why) {
      if (!byWhy.has(why)) byWhy.set(why, []);
      byWhy.get(why).push(id);
    }
    [...byWhy].forEach(([why, ids], k) => {
      if (k) verdictEl.append("; ");
      ids.slice(0, 6).forEach((id, i) => {
        if (i) verdictEl.append(", ");
        const b = h("button", { type: "button", class: "linkish", "data-lagging": id, text: label(id), title: `inspect ${id}` });
        b.addEventListener("click", () => inspect(id));
        verdictEl.append(b);
      });
      if (ids.length > 6) verdictEl.append(` and ${ids.length - 6} more`);
      verdictEl.append(` (${ids.length > 1 ? `${ids.length} nodes ` : ""}${why})`);
    });
    verdictEl.append(".");
  }
}
function stepPath(u, X, Y, elapsed, tmax) {
  const n = Math.max(u.of, 1);
  const delays = Object.values(u.nodes).filter((x) => x.t !== null).map((x) => Math.max(x.delay_s || 0, 0)).sort((a, b) => a - b);
  let d = `M${X(0).toFixed(1)},${Y(0).toFixed(1)}`;
  let f = 0;
  for (const t of delays) {
    d += `L${X(t).toFixed(1)},${Y(f).toFixed(1)}`;
    f += 1 / n;
    d += `L${X(t).toFixed(1)},${Y(f).toFixed(1)}`;
  }
  const end = u.pending.length ? Math.min(elapsed, tmax) : Math.max(delays[delays.length - 1] || 0, 0);
  d += `L${X(Math.max(end, delays[delays.length - 1] || 0)).toFixed(1)},${Y(f).toFixed(1)}`;
  return d;
}
