/* geoplan what-if scoring: a line-for-line mirror of geoplan/score.py `aggregate`
   (weighted sum, and OWA via `owa_matrices`). Pure functions, no DOM. */
(function () {
  "use strict";
  var G = (window.geoplan = window.geoplan || {});

  /* weights normalised to sum 1 (all zero -> equal weights) */
  function normalise(w) {
    var s = 0, i, out = new Array(w.length);
    for (i = 0; i < w.length; i++) s += w[i];
    for (i = 0; i < w.length; i++) out[i] = s > 0 ? w[i] / s : 1 / w.length;
    return out;
  }

  /* owa_matrices for one row: B[j] = order weight of criterion j's position when the
     row's scores are sorted descending (stable: ties keep criterion order); A = B * s */
  function owaRow(s, v) {
    var k = s.length, idx = new Array(k), b = new Array(k), a = new Array(k), i;
    for (i = 0; i < k; i++) idx[i] = i;
    /* numpy argsort(-s, kind="stable") */
    idx.sort(function (p, q) {
      var d = -s[p] - -s[q];
      return d !== 0 ? d : p - q;
    });
    for (i = 0; i < k; i++) b[idx[i]] = v[i];
    for (i = 0; i < k; i++) a[i] = b[i] * s[i];
    return [a, b];
  }

  function dot(x, w) {
    var r = 0;
    for (var j = 0; j < x.length; j++) r += x[j] * w[j];
    return r;
  }

  /* aggregate(S row, w, method, order_weights): S @ w, or (A @ w) / (B @ w), 0 when B @ w = 0 */
  function aggregate(s, w, method, ow) {
    if (method === "owa") {
      var ab = owaRow(s, ow), num = dot(ab[0], w), den = dot(ab[1], w);
      return den > 0 ? num / den : 0;
    }
    return dot(s, w);
  }

  /* contributions: weighted sum w_j s_j; OWA a_j w_j / (B @ w) */
  function contributions(s, w, method, ow) {
    var out = new Array(s.length), j;
    if (method === "owa") {
      var ab = owaRow(s, ow), den = dot(ab[1], w);
      for (j = 0; j < s.length; j++) out[j] = den > 0 ? (ab[0][j] * w[j]) / den : 0;
      return out;
    }
    for (j = 0; j < s.length; j++) out[j] = s[j] * w[j];
    return out;
  }

  /* ranks per belt: score descending, ties by id; rows with ok=false stay unranked */
  function rank(rows) {
    var byBelt = {};
    rows.forEach(function (r) {
      r.rank = null;
      if (!r.ok) return;
      (byBelt[r.belt] = byBelt[r.belt] || []).push(r);
    });
    Object.keys(byBelt).forEach(function (b) {
      var list = byBelt[b];
      list.sort(function (p, q) {
        if (q.score !== p.score) return q.score - p.score;
        return p.id < q.id ? -1 : p.id > q.id ? 1 : 0;
      });
      list.forEach(function (r, i) {
        r.rank = i + 1;
      });
    });
    return rows;
  }

  G.score = {
    normalise: normalise,
    aggregate: aggregate,
    contributions: contributions,
    owaRow: owaRow,
    rank: rank,
  };
})();
