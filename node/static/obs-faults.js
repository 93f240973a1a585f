// Faults from the page: the cut in two (sides picked per node or drawn on the graph), heal,
// clear, loss and delay at a node or every node, isolate and rejoin. Each goes to the node's
// `observatory/faults`, which calls every node's own admin API with the token typed here.

import { $, h, labeller, plural } from "./common.js";
import { O, refresh, schedulePoll, token, view } from "./obs-view.js";

// --- faults from the page --------------------------------------------------------------
export function renderFaults(v) {
  const box = $("cut-groups");
  const label = labeller(v.nodes.map((x) => x.id));
  if (!O.groups.size) {
    // a first proposal: halves of the nodes, in id order
    const ids = v.nodes.map((n) => n.id);
    const half = Math.ceil(ids.length / 2);
    ids.forEach((id, i) => O.groups.set(id, i < half ? "A" : "B"));
    O.groupsProposed = true;
  }
  const want = v.nodes.map((n) => `${n.id}=${O.groups.get(n.id) || "A"}`).join(",");
  if (box.dataset.state !== want) {
    box.dataset.state = want;
    box.replaceChildren(...v.nodes.map((n) => {
      const side = O.groups.get(n.id) || "A";
      const radio = (g) => {
        const input = h("input", { type: "radio", name: `side-${n.id}`, value: g, checked: side === g, "aria-label": `${n.id} on side ${g}` });
        input.addEventListener("change", () => { O.groups.set(n.id, g); O.groupsProposed = false; refresh(true); });
        return h("label", { class: "side-pick" }, input, g);
      };
      return h("div", { class: "cut-row", "data-node": n.id }, h("span", { class: "id", text: label(n.id), title: n.id }), radio("A"), radio("B"));
    }));
  }
  $("cut-draw").setAttribute("aria-pressed", String(O.cutMode));
  $("graph").classList.toggle("drawing", O.cutMode);
  const live = O.mode === "live";
  for (const id of ["cut-apply", "heal", "clear-faults", "fe-apply", "fe-apply-all", "fe-isolate", "cut-draw"]) $(id).disabled = !live;
  $("faults-off").hidden = live;
}

async function faultAction(body, what) {
  const out = $("faults-result");
  out.className = "result";
  out.textContent = `${what}…`;
  try {
    const r = await fetch("observatory/faults", { method: "POST", headers: { "Content-Type": "application/json", ...token() }, body: JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
    const results = Object.entries(data.results || {});
    const bad = results.filter(([, x]) => x.status !== 200);
    if (!bad.length) {
      out.className = "result ok";
      out.textContent = `${what}: done on ${plural(results.length, "node")}.`;
    } else {
      out.className = "result error";
      const first = bad[0][1];
      let hint = "";
      if (bad.some(([, x]) => x.reason === "admin_off")) hint = " The nodes have no admin token: start them with GOSSIP_ADMIN_TOKEN (e.g. python -m lab.cluster --nodes 5 --env GOSSIP_ADMIN_TOKEN=secret) and type it above.";
      else if (bad.some(([, x]) => x.status === 401)) hint = " Type the nodes' admin token above.";
      out.textContent = `${what}: refused by ${plural(bad.length, "node")} of ${results.length} (${bad[0][0]}: ${first.error || first.status}).${hint}`;
    }
  } catch (e) {
    out.className = "result error";
    out.textContent = `${what}: failed: ${e.message}`;
  }
  O.fastUntil = Date.now() + 8000;
  schedulePoll(150);
}

// What the token is for, once this node's ui.json says whether it has one.
export function noteToken(required) {
  $("token-note").textContent = required
    ? "This node has an admin token: the other nodes most likely share it."
    : "This node has no admin token, so faults cannot be set on it. Start the nodes with GOSSIP_ADMIN_TOKEN (python -m lab.cluster --nodes 5 --env GOSSIP_ADMIN_TOKEN=secret) to break them from here.";
}

export function setupFaults() {
  $("cut-draw").addEventListener("click", () => { O.cutMode = !O.cutMode; O.cutLine = null; refresh(true); });
  $("cut-apply").addEventListener("click", () => {
    const v = view();
    const a = v.nodes.map((n) => n.id).filter((id) => (O.groups.get(id) || "A") === "A");
    const b = v.nodes.map((n) => n.id).filter((id) => O.groups.get(id) === "B");
    if (!a.length || !b.length) {
      $("faults-result").className = "result error";
      $("faults-result").textContent = "Put at least one node on each side.";
      return;
    }
    O.cutMode = false;
    faultAction({ action: "partition", groups: [a, b] }, `Cutting the cluster in two (${a.length} | ${b.length})`);
  });
  $("heal").addEventListener("click", () => faultAction({ action: "heal" }, "Healing the partition"));
  $("clear-faults").addEventListener("click", () => faultAction({ action: "clear" }, "Clearing every fault"));
  const editorFaults = () => ({
    drop: Math.min(Math.max(Number($("fe-drop").value) || 0, 0), 100) / 100,
    duplicate: Math.min(Math.max(Number($("fe-dup").value) || 0, 0), 100) / 100,
    delay_ms: Math.max(Number($("fe-delay").value) || 0, 0),
    jitter_ms: Math.max(Number($("fe-jitter").value) || 0, 0),
  });
  $("fault-editor").addEventListener("submit", (e) => {
    e.preventDefault();
    faultAction({ action: "set", nodes: [O.inspect], faults: editorFaults() }, `Setting the faults of ${O.inspect}`);
  });
  $("fe-apply-all").addEventListener("click", () => faultAction({ action: "set", nodes: "all", faults: editorFaults() }, "Setting the faults of every node"));
  $("fe-isolate").addEventListener("click", (e) => {
    const action = e.target.dataset.action || "isolate";
    faultAction({ action, node: O.inspect }, action === "isolate" ? `Isolating ${O.inspect}` : `Letting ${O.inspect} rejoin`);
  });
}
