/* geoplan diff page: run A (left) and run B (right) on two synced Leaflet maps.
   Reads #geoplan-data; every data string goes in as text. */
(function () {
  "use strict";
  var G = (window.geoplan = window.geoplan || {});
  var STATUS = { same: "#999999", moved: "#E69F00", new: "#009E73", dropped: "#D55E00" };

  function tr(D, key, vals) {
    var s = D.t[key] === undefined ? key : D.t[key];
    return vals ? s.replace(/\{(\w+)\}/g, function (m, k) {
      return vals[k] === undefined ? m : String(vals[k]);
    }) : s;
  }
  function el(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (parent) parent.appendChild(e);
    return e;
  }

  function init() {
    var D = JSON.parse(document.getElementById("geoplan-data").textContent);
    var left = window[D.map];
    var box = left.getContainer();
    box.classList.add("gp-diff-a");
    var rightDiv = el("div", "gp-diff-b", box.parentNode);
    rightDiv.id = "gp-map-b";
    left.invalidateSize();
    var right = L.map(rightDiv, { zoomControl: true, attributionControl: false });
    right.fitBounds(D.bounds, { padding: [16, 16], animate: false });
    left.fitBounds(D.bounds, { padding: [16, 16], animate: false });
    [left, right].forEach(function (m) {
      if (m.attributionControl) m.attributionControl.setPrefix(false);
      if (D.outline) {
        L.geoJSON(D.outline, { interactive: false, style: function (f) {
          return { color: "#777", weight: 1, fillOpacity: 1,
            fillColor: f.properties.iso === "PRK" ? "#fbf7e8" : "#eeeeea" };
        } }).addTo(m);
      }
    });
    var syncing = false;
    function sync(src, dst) {
      src.on("move", function () {
        if (syncing) return;
        syncing = true;
        dst.setView(src.getCenter(), src.getZoom(), { animate: false });
        syncing = false;
      });
    }
    sync(left, right);
    sync(right, left);
    G.maps = [left, right];

    var byA = {}, byB = {};
    D.rows.forEach(function (r) {
      if (r.a) byA[r.a] = r;
      if (r.b) byB[r.b] = r;
    });
    function draw(map, feats, index, side) {
      var layers = {};
      feats.forEach(function (f) {
        var r = index[f.id] || { status: "same", top_k: "" };
        var c = STATUS[r.status] || "#999";
        if (f.geom && f.geom.type !== "Point") {
          L.geoJSON(f.geom, { style: { color: c, weight: 2, fillColor: c, fillOpacity: 0.5 } })
            .addTo(map);
        }
        var m = L.circleMarker([f.lat, f.lon], {
          radius: r.status === "same" ? 5 : 8, color: "#111", weight: 1.5, fillColor: c,
          fillOpacity: 0.95, className: "gp-diff-" + r.status,
        }).addTo(map);
        var tip = f.name + " \u2014 " + f.profile_label + ", " + f.belt + " #" + (f.rank || "\u2013");
        if (r.top_k) tip += " \u2014 " + tr(D, "map.diff." + r.top_k, { k: D.top_k });
        m.bindTooltip(tip);
        var pop = el("div", "gp-popup");
        pop.setAttribute("data-id", f.id);
        el("h3", "", pop, f.name);
        el("div", "gp-sub", pop, f.profile_label + " \u00b7 " + f.belt);
        el("div", "", pop, tr(D, "map.diff." + (r.status || "same")));
        if (r.rank_a !== null || r.rank_b !== null) {
          el("div", "", pop, tr(D, "map.diff.rank", { a: r.rank_a || "\u2013",
            b: r.rank_b || "\u2013" }));
        }
        if (r.top_k) el("div", "gp-topk", pop, tr(D, "map.diff." + r.top_k, { k: D.top_k }));
        m.bindPopup(pop);
        if (r.top_k) {
          var icon = L.divIcon({ className: "gp-topk-mark gp-topk-" + r.top_k, iconSize: [16, 16],
            iconAnchor: [-6, 16], html: "" });
          var tm = L.marker([f.lat, f.lon], { icon: icon, interactive: false }).addTo(map);
          tm.on("add", function () {});
          var e = tm.getElement();
          if (e) e.textContent = r.top_k === "entered" ? "\u25B2" : "\u25BC";
        }
        layers[f.id] = m;
      });
      var label = L.control({ position: "topright" });
      label.onAdd = function () {
        var d = el("div", "gp-box gp-diff-name");
        el("b", "", d, (side === "a" ? "A: " : "B: ") + D.names[side === "a" ? 0 : 1]);
        return d;
      };
      label.addTo(map);
      return layers;
    }
    var la = draw(left, D.a, byA, "a");
    var lb = draw(right, D.b, byB, "b");

    /* the legend and the list of changes: a column beside the maps (below them on a phone) */
    (function () {
      var d = el("div", "gp-diff-side", box.parentNode);
      el("h1", "gp-diff-title", d, tr(D, "map.diff.title", { a: D.names[0], b: D.names[1] }));
      ["same", "moved", "new", "dropped"].forEach(function (s) {
        var row = el("div", "gp-lrow", d);
        var sym = el("span", "gp-sym-pt", row);
        sym.style.background = STATUS[s];
        el("span", "", row, " " + tr(D, "map.diff." + s));
      });
      el("div", "gp-lrow", d, "\u25B2 " + tr(D, "map.diff.entered", { k: D.top_k }));
      el("div", "gp-lrow", d, "\u25BC " + tr(D, "map.diff.left", { k: D.top_k }));
      el("div", "gp-lt", d, tr(D, "map.diff.changes"));
      var list = el("ol", "gp-rank gp-diff-list", d);
      var changed = D.rows.filter(function (r) {
        return r.status !== "same" || r.top_k;
      });
      changed.forEach(function (r) {
        var li = el("li", "gp-row", list);
        li.textContent = r.name + " \u2014 " + r.profile + ", " + r.belt + ": " +
          tr(D, "map.diff." + r.status) + (r.top_k ? ", " + tr(D, "map.diff." + r.top_k,
            { k: D.top_k }) : "") + " (" + tr(D, "map.diff.rank", { a: r.rank_a || "\u2013",
            b: r.rank_b || "\u2013" }) + ")";
        li.addEventListener("click", function () {
          var m = (r.b && lb[r.b]) || (r.a && la[r.a]);
          if (!m) return;
          left.setView(m.getLatLng(), Math.max(left.getZoom(), 10), { animate: false });
          if (r.a && la[r.a]) la[r.a].openPopup();
          if (r.b && lb[r.b]) lb[r.b].openPopup();
        });
      });
      if (!changed.length) el("p", "gp-empty", d, tr(D, "map.diff.none"));
    })();
    G.ready = true;
  }
  document.addEventListener("DOMContentLoaded", init);
})();
