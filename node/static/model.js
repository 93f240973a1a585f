// The spread model the observatory draws the measured spread against, and the ideal cost
// of a spread: the JavaScript twin of node/spread_model.py (the Serf model, with the same
// arguments in the same order) and of node/genealogy.py's `ideal_depth` and `hop_period`.
//
// Pure: no DOM, no clock. tests/js/model.test.js checks it against the figures the Python
// writes in tests/golden/model.json (tests/unit/test_golden.py), so the two cannot drift apart.

// Serf's convergence model (its simulator's `convergenceAtRound`): the fraction of `n`
// nodes informed `t` seconds after the send, each round of `periodS` every informed node
// reaching `fanout` random nodes with loss `loss`.
export function serfFraction(t, n, fanout, periodS = 1, loss = 0) {
  if (n <= 1) return 1;
  const contact = (fanout / n) * (1 - loss) * 0.5;
  const informed = n / (1 + (n + 1) * Math.exp(-contact * n * (t / periodS)));
  return Math.min(informed / n, 1);
}

// Seconds until the model has informed `fraction` (0 < fraction < 1) of the nodes.
export function serfTime(fraction, n, fanout, periodS = 1, loss = 0) {
  if (n <= 1) return 0;
  const rate = fanout * (1 - loss) * 0.5;
  if (rate <= 0) return Infinity;
  return (Math.log(((n + 1) * fraction) / (1 - fraction)) / rate) * periodS;
}

// The least depth of a tree that holds n nodes with `fanout` children per node.
export function idealDepth(n, fanout) {
  let depth = 0;
  let holds = 1;
  let level = 1;
  while (holds < n) {
    level *= Math.max(fanout, 1);
    holds += level;
    depth += 1;
    if (fanout <= 1 && depth >= n) break;
  }
  return depth;
}

export function median(xs) {
  if (!xs.length) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

// The median seconds per hop of pushed first arrivals (at random or by the tree): the model's
// round length.
export function hopPeriod(updates) {
  const perHop = [];
  for (const u of updates) {
    for (const v of Object.values(u.nodes)) {
      if ((v.via === "push" || v.via === "tree") && v.hops && v.delay_s !== null && v.delay_s >= 0) perHop.push(v.delay_s / v.hops);
    }
  }
  return median(perHop);
}
