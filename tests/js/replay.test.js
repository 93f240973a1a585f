// node/static/replay.js against the Python: a seeded simulated run (tests/golden/replay.json,
// written by tests/unit/test_golden.py) replayed by the page's code must give node/genealogy.py's
// merge of the nodes' ledgers, its model period, and node/ledger.py's states.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import test from "node:test";

import { applyLine, converged, emptyState, load, parse } from "../../node/static/replay.js";

const golden = JSON.parse(readFileSync(new URL("../golden/replay.json", import.meta.url)));
const verdicts = JSON.parse(readFileSync(new URL("../golden/converged.json", import.meta.url)));
const text = golden.record.map((line) => JSON.stringify(line)).join("\n");

const close = (a, b, what) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a}, the Python ${b}`);
const versions = (states) => {
  const out = {};
  for (const [id, s] of [...states].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (s.up) out[id] = Object.fromEntries(Object.entries(s.origins).map(([o, e]) => [o, e.version]));
  }
  return out;
};

test("the replay merges the record into the trees node/genealogy.py makes", () => {
  const rp = load(text, "golden");
  const js = rp.view(rp.t1).updates;
  assert.equal(js.length, golden.updates.length);
  const fields = ["uuid", "origin", "version", "movie", "reached", "of", "depth", "copies", "redundant", "ideal_copies", "ideal_depth"];
  golden.updates.forEach((p, i) => {
    const j = js[i]; // both newest first
    for (const k of fields) assert.deepEqual(j[k], p[k], `${p.uuid} ${k}`);
    assert.deepEqual([...j.pending].sort(), [...p.pending].sort());
    assert.deepEqual([...j.overtaken].sort(), [...p.overtaken].sort());
    close(j.sent_at, p.sent_at, `${p.uuid} sent_at`);
    close(j.spread_s, p.spread_s, `${p.uuid} spread_s`);
    assert.deepEqual(Object.keys(j.nodes).sort(), Object.keys(p.nodes).sort());
    for (const [node, v] of Object.entries(p.nodes)) {
      const w = j.nodes[node];
      for (const k of ["parent", "hops", "via", "dups", "stale", "senders", "ttl_drop"]) {
        assert.deepEqual(w[k], v[k], `${p.uuid} at ${node}: ${k}`);
      }
      if (v.delay_s === null) assert.equal(w.delay_s, null);
      else close(w.delay_s, v.delay_s, `${p.uuid} at ${node}: delay_s`);
    }
  });
});

test("the replay's model has the Python's size, fanout and measured period", () => {
  const rp = load(text, "golden");
  const m = rp.view(rp.t1).model;
  assert.equal(m.n, golden.record[0].nodes.length);
  assert.equal(m.fanout, golden.fanout);
  close(m.period_s, golden.period_s, "period_s");
});

test("applying the lines gives node/ledger.py's states, midway and at the end", () => {
  const rp = load(text, "golden");
  assert.deepEqual(versions(rp.seek(golden.mid)), golden.versions_mid);
  assert.deepEqual(rp.finalVersions(), golden.versions_end);
  // and the record's closing snapshots agree with the replay
  const check = rp.endCheck();
  assert.equal(check.checked, 12);
  assert.deepEqual(check.differ, []);
});

test("seeking back and forth lands in the same state as seeking once", () => {
  const rp = load(text, "golden");
  rp.seek(rp.t1);
  const back = versions(rp.seek(golden.mid));
  assert.deepEqual(back, golden.versions_mid);
  assert.deepEqual(rp.cluster(golden.mid), load(text, "fresh").cluster(golden.mid));
  assert.equal(rp.cluster(rp.t1).converged, true);
  assert.equal(rp.cluster(golden.mid).converged, false);
});

test("parsing keeps the header, sorts lines by time and counts what is not a record line", () => {
  const rec = parse(['{"kind":"header","nodes":["a:1"]}', "not json", '{"t":2,"node":"a:1","kind":"x"}',
    "", '{"t":1,"node":"a:1","kind":"y"}', '{"t":3}', '{"t":3,"node":"a:1","kind":"snapshot","end":true}'].join("\n"));
  assert.deepEqual(rec.header, { kind: "header", nodes: ["a:1"] });
  assert.deepEqual(rec.lines.map((l) => l.kind), ["y", "x"]);
  assert.equal(rec.ends.length, 1);
  assert.equal(rec.bad, 2);
  assert.throws(() => parse("{}\n[]"), /not a Gossip Lab record/);
});

test("a line changes one node's state as node/ledger.py's apply_line does", () => {
  const s = emptyState();
  applyLine(s, { t: 1, node: "a:1", kind: "node_started", generation: 7 });
  applyLine(s, { t: 2, node: "a:1", kind: "movie_changed", movie: "Heat", version: 8, uuid: "u1" });
  applyLine(s, { t: 3, node: "a:1", kind: "update_applied", origin: "b:1", version: 4, movie: "Up", uuid: "u2",
    sender: "c:1", hops: 2, via: "push", delay_s: 0.5 });
  applyLine(s, { t: 4, node: "a:1", kind: "peer_state", peer: "b:1", new: "alive" });
  applyLine(s, { t: 5, node: "a:1", kind: "faults_set", drop: 0.2 });
  assert.equal(s.up, true);
  assert.equal(s.generation, 7);
  assert.equal(s.movie, "Heat");
  assert.deepEqual(s.origins["a:1"], { version: 8, movie: "Heat", uuid: "u1", learned_at: 2, sent_at: 2, sender: null, hops: 0, via: "local" });
  assert.deepEqual(s.origins["b:1"], { version: 4, movie: "Up", uuid: "u2", learned_at: 3, sent_at: 2.5, sender: "c:1", hops: 2, via: "push" });
  assert.deepEqual(s.peers, { "b:1": "alive" });
  assert.deepEqual(s.faults, { drop: 0.2, duplicate: 0, delay_ms: 0, jitter_ms: 0, blocked: [] });
  applyLine(s, { t: 6, node: "a:1", kind: "origin_reaped", origin: "b:1" });
  applyLine(s, { t: 7, node: "a:1", kind: "peer_state", peer: "b:1", new: "forgotten" });
  assert.deepEqual(Object.keys(s.origins), ["a:1"]);
  assert.deepEqual(s.peers, {});
  applyLine(s, { t: 8, node: "a:1", kind: "node_stopped" });
  assert.equal(s.up, false);
  assert.deepEqual(s.origins, {});
});

test("converged is node/core/invariants.py's views_converged, case for case", () => {
  assert.ok(verdicts.cases.length > 10);
  for (const { views, expected, value } of verdicts.cases) {
    assert.equal(converged(views, expected), value, `converged(${JSON.stringify(views)}, ${JSON.stringify(expected)})`);
  }
});

test("the replayed cluster's verdict is the rule's on the nodes running at that time", () => {
  const rp = load(text, "golden");
  assert.equal(rp.cluster(golden.mid).converged, false);
  assert.equal(rp.cluster(rp.t1).converged, true);
});
