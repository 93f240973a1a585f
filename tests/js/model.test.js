// node/static/model.js against node/spread_model.py and node/genealogy.py: every figure
// in tests/golden/model.json (written by tests/unit/test_golden.py from the Python), with the
// same arguments in the same order.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import test from "node:test";

import { hopPeriod, idealDepth, median, serfFraction, serfTime } from "../../node/static/model.js";

const golden = JSON.parse(readFileSync(new URL("../golden/model.json", import.meta.url)));

function close(actual, expected, what) {
  const tol = 1e-9 * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual}, the Python ${expected}`);
}

test("the Serf model's fraction is the Python's, argument for argument", () => {
  assert.ok(golden.serf_fraction.length > 500);
  for (const { args, value } of golden.serf_fraction) close(serfFraction(...args), value, `serfFraction(${args})`);
});

test("the time the Serf model takes to reach a fraction is the Python's", () => {
  let never = 0;
  for (const { args, value } of golden.serf_time) {
    if (value === null) {
      never += 1;
      assert.equal(serfTime(...args), Infinity, `serfTime(${args})`);
    } else {
      close(serfTime(...args), value, `serfTime(${args})`);
    }
  }
  assert.ok(never > 0, "total loss (never) is among the cases");
});

test("the model's time inverts its fraction", () => {
  for (const [n, fanout, period, loss] of [[30, 3, 0.2, 0], [1000, 2, 0.01, 0.5]]) {
    for (const p of [0.1, 0.5, 0.99]) close(serfFraction(serfTime(p, n, fanout, period, loss), n, fanout, period, loss), p, `${p}`);
  }
});

test("the ideal depth is the Python's", () => {
  for (const { args, value } of golden.ideal_depth) assert.equal(idealDepth(...args), value, `idealDepth(${args})`);
});

test("the hop period is the median time per hop of pushed first arrivals", () => {
  const node = (via, hops, delay) => ({ via, hops, delay_s: delay });
  const updates = [
    { nodes: { a: node("local", 0, 0), b: node("push", 1, 0.02), c: node("push", 2, 0.08) } },
    { nodes: { d: node("sync", 1, 5), e: node("push", 1, 0.03), f: node("push", 1, null), g: node("push", 2, -1) } },
  ];
  // 0.02, 0.04 and 0.03 per hop; sync, local, unknown and negative delays are left out
  close(hopPeriod(updates), 0.03, "hopPeriod");
  assert.equal(hopPeriod([]), null);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), null);
});
