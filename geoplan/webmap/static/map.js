/* geoplan map page: draws the run from the JSON block #geoplan-data on folium's Leaflet map.
   Every string from data goes into the page as text (textContent, setAttribute, title),
   never as markup. Words come from the page's catalogue (D.t). Needs whatif.js. */
(function () {
  "use strict";
  var G = (window.geoplan = window.geoplan || {});
  var D, map, T;
  var state = { profile: null, belt: "", phases: { 1: true, 2: true, 3: true }, min: 0, max: 1 };
  var rowsBy = {}; /* profile -> result rows (zones and site results) */
  var zoneGroups = {}; /* profile -> L.layerGroup */
  var siteLayer, surfaceLayer = null, searchIndex = [], listEl, wifBox, statusEl;
  var INFRA = {
    ports: { color: "#000000", fill: "#56B4E9", r: 5 },
    railways: { color: "#222222", weight: 2, dash: "6 3" },
    roads: { color: "#D55E00", weight: 2.2 },
    power_plants: { color: "#000000", fill: "#E69F00", r: 5 },
    border_crossings: { color: "#000000", fill: "#ffffff", r: 5 },
    economic_zones: { color: "#555555", fill: "#CC79A7", r: 4 },
  };
  var BELT = { west_coast: "#0072B2", east_coast: "#009E73", border: "#CC79A7" };
  var overlays = {};

  /* ---------- helpers ---------- */
  function tr(key, vals) {
    var s = D.t[key];
    if (s === undefined) s = key;
    if (vals) {
      s = s.replace(/\{(\w+)\}/g, function (m, k) {
        return vals[k] === undefined ? m : String(vals[k]);
      });
    }
    return s;
  }
  function el(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (parent) parent.appendChild(e);
    return e;
  }
  /* tooltip content as a text node: Leaflet puts a string tooltip in as markup */
  function text(s) {
    return document.createTextNode(String(s));
  }
  function fmt(v, nd) {
    /* en-GB and ko-KR write numbers alike (1,234.5): grouping by hand, since a
       toLocaleString per number costs more than the rest of the page's start */
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    var s = Number(v).toFixed(nd || 0), neg = s.charAt(0) === "-";
    if (neg) s = s.slice(1);
    var dot = s.indexOf("."), ip = dot < 0 ? s : s.slice(0, dot), fp = dot < 0 ? "" : s.slice(dot);
    for (var i = ip.length - 3; i > 0; i -= 3) ip = ip.slice(0, i) + "," + ip.slice(i);
    return (neg ? "-" : "") + ip + fp;
  }
  function num(v) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    var a = Math.abs(v);
    return fmt(v, a >= 100 ? 0 : a >= 10 ? 1 : 2);
  }
  function hex(c) {
    return [1, 3, 5].map(function (i) {
      return parseInt(c.substr(i, 2), 16);
    });
  }
  function color(s) {
    if (s === null || s === undefined || !isFinite(s)) return "#999999";
    var C = D.colors, x = Math.min(Math.max(s, 0), 1) * (C.length - 1);
    var i = Math.min(Math.floor(x), C.length - 2), f = x - i, a = hex(C[i]), b = hex(C[i + 1]);
    return "#" + [0, 1, 2].map(function (k) {
      var v = Math.round(a[k] * (1 - f) + b[k] * f).toString(16);
      return v.length < 2 ? "0" + v : v;
    }).join("");
  }
  function ink(bg) {
    var c = hex(bg);
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] > 140 ? "#000" : "#fff";
  }
  function fold(s) {
    return String(s || "")
      .toLowerCase()
      .normalize("NFD")
      .replace(/[\u0300-\u036f]/g, "")
      .replace(/['\u2018\u2019\u02bc\u02bb`\u00b4]/g, "")
      .replace(/[\s\-\u2010-\u2015_.,]+/g, "")
      .normalize("NFC");
  }
  G.fold = fold;
  function profileOf(id) {
    for (var i = 0; i < D.profiles.length; i++) if (D.profiles[i].id === id) return D.profiles[i];
    return null;
  }
  function beltLabel(id) {
    for (var i = 0; i < D.belts.length; i++) if (D.belts[i].id === id) return D.belts[i].label;
    return id;
  }
  function phaseText(p) {
    return p ? tr("map.phase", { phase: p, name: tr("phase.name." + p) }) : "\u2013";
  }
  function robustText(r) {
    if (r.p_top_k === null || r.p_top_k === undefined) return "";
    return tr("map.robust", {
      k: D.top_k,
      /* the percent as the run's sentences write it (Python rounds halves to even) */
      pct: r.pct !== null && r.pct !== undefined ? r.pct : fmt(100 * r.p_top_k, 0),
      draws: fmt(D.draws || 0, 0),
    });
  }
  function stop(e) {
    L.DomEvent.disableClickPropagation(e);
    L.DomEvent.disableScrollPropagation(e);
  }
  function control(position, cls, build) {
    var C = L.Control.extend({
      options: { position: position },
      onAdd: function () {
        var c = L.DomUtil.create("div", "gp-box " + cls);
        stop(c);
        build(c);
        return c;
      },
    });
    return new C().addTo(map);
  }
  /* a collapsible box: a header button and a body; collapsed on phones, where one box is
     open at a time (each covers most of the screen) */
  var boxes = [];
  function phone() {
    return window.innerWidth < 700;
  }
  function boxesOpen() {
    /* the container knows whether a box is open on a phone (the search box hides then) */
    var any = boxes.some(function (b) {
      return !b.c.classList.contains("gp-collapsed");
    });
    map.getContainer().classList.toggle("gp-box-open", phone() && any);
  }
  function collapsible(c, title, openDefault) {
    var head = el("button", "gp-head", c, title);
    head.type = "button";
    var body = el("div", "gp-body", c);
    function set(open) {
      c.classList.toggle("gp-collapsed", !open);
      head.setAttribute("aria-expanded", open ? "true" : "false");
    }
    boxes.push({ c: c, set: set });
    set(openDefault && !phone());
    head.addEventListener("click", function () {
      var open = c.classList.contains("gp-collapsed");
      if (open && phone()) collapseAll();
      set(open);
      boxesOpen();
    });
    return body;
  }
  /* on a phone, fold every box away (before a popup opens: the boxes would cover it) */
  function collapseAll() {
    if (!phone()) return;
    boxes.forEach(function (b) {
      b.set(false);
    });
    boxesOpen();
  }

  /* ---------- popups ---------- */
  function critRows(parent, prof, r) {
    var w = r.weights || prof.criteria.map(function (c) {
      return c.weight;
    });
    var contrib = G.score.contributions(r.S, w, D.method, D.order_weights);
    var maxW = Math.max.apply(null, w.concat([1e-9]));
    var items = prof.criteria.map(function (c, j) {
      return { c: c, j: j, w: w[j], v: contrib[j] };
    });
    items.sort(function (a, b) {
      return b.v - a.v || a.j - b.j;
    });
    var box = el("div", "gp-crit", parent);
    el("div", "gp-crit-title", box, tr("map.popup.criteria"));
    items.forEach(function (it) {
      var row = el("div", "gp-crit-row", box);
      var top = el("div", "gp-crit-top", row);
      el("span", "gp-crit-name", top, it.c.label);
      el("span", "gp-crit-val", top, fmt(it.v, 3));
      var bar = el("span", "gp-bar", row);
      bar.style.width = (110 * it.w) / maxW + "px";
      bar.title = tr("map.popup.weight") + " " + fmt(100 * it.w, 0) + " %";
      var fill = el("span", "gp-bar-fill", bar);
      fill.style.width = it.w > 0 ? Math.min(100, (100 * Math.max(0, it.v)) / it.w) + "%" : "0";
      var raw = r.raw ? r.raw[it.j] : null;
      el("span", "gp-crit-raw", row, (raw === null || raw === undefined ? "\u2013"
        : num(raw * it.c.scale) + " " + it.c.unit) + " \u00b7 " + tr("map.popup.weight") + " " +
        fmt(100 * it.w, 0) + " %");
    });
  }
  function resultBlock(parent, r, showCrit) {
    var prof = profileOf(r.profile);
    var dl = el("div", "gp-result", parent);
    var head = el("div", "gp-result-head", dl);
    el("span", "gp-badge gp-p" + (r.phase || 0), head, r.phase || "\u2013").style.background =
      color(r.score);
    head.lastChild.style.color = ink(color(r.score));
    el("b", "", head, prof ? prof.label : r.profile);
    var lines = [
      [tr("map.popup.score"), r.score === null ? tr("map.unranked") : fmt(r.score, 3) +
        (r.score0 !== null && Math.abs(r.score - r.score0) > 5e-4
          ? " (" + tr("map.popup.run_score", { score: fmt(r.score0, 3) }) + ")" : "")],
      [tr("map.popup.rank"), r.rank ? tr("map.rank_in", { rank: r.rank, belt: beltLabel(r.belt) })
        : tr("map.unranked")],
      [tr("map.popup.phase"), phaseText(r.phase)],
      [tr("map.popup.priority"), r.priority ? String(r.priority) : "\u2013"],
    ];
    var rb = robustText(r);
    if (rb) lines.push([tr("map.popup.robustness"), rb]);
    var tbl = el("table", "gp-kv", dl);
    lines.forEach(function (kv) {
      var row = el("tr", "", tbl);
      el("th", "", row, kv[0]);
      el("td", "", row, kv[1]);
    });
    if (r.reason) el("p", "gp-reason", dl, r.reason);
    if (prof && showCrit) critRows(dl, prof, r);
    return dl;
  }
  function popOpts() {
    /* as wide as the screen allows (a phone's is narrower than 360 px and the margins), and
       below the search box's corner */
    var w = window.innerWidth, narrow = phone();
    return { maxWidth: Math.min(360, w - 40), minWidth: Math.min(240, w - 40),
      maxHeight: Math.max(220, window.innerHeight - (narrow ? 190 : 160)),
      autoPanPaddingTopLeft: narrow ? [10, 125] : [60, 90],
      autoPanPaddingBottomRight: narrow ? [10, 45] : [20, 20] };
  }
  function zonePopup(r) {
    var d = el("div", "gp-popup");
    d.setAttribute("data-id", r.id);
    el("h3", "", d, r.zone.label);
    var sub = [tr("kind.zone"), beltLabel(r.belt)];
    if (r.size) sub.push(tr("size." + r.size));
    if (r.area) sub.push(fmt(r.area, 1) + " km\u00b2");
    el("div", "gp-sub", d, sub.join(" \u00b7 "));
    resultBlock(d, r, true);
    el("div", "gp-id", d, r.id);
    return d;
  }
  function sitePopup(site) {
    var d = el("div", "gp-popup");
    var cur = current(site) || site.results[0];
    d.setAttribute("data-id", cur ? cur.id : "");
    el("h3", "", d, site.label);
    el("div", "gp-sub", d, tr("kind.site") + " \u00b7 " + tr("map.popup.all_profiles"));
    var rs = site.results.slice().sort(function (a, b) {
      return (a.profile === state.profile ? 0 : 1) - (b.profile === state.profile ? 0 : 1);
    });
    rs.forEach(function (r) {
      var det = el("details", "gp-site-res", d);
      if (r.profile === state.profile || rs.length === 1) det.open = true;
      var sm = el("summary", "", det);
      var prof = profileOf(r.profile);
      sm.textContent = (prof ? prof.label : r.profile) + ": " +
        (r.score === null ? tr("map.unranked") : fmt(r.score, 3)) +
        (r.rank ? " \u00b7 " + tr("map.rank_in", { rank: r.rank, belt: beltLabel(r.belt) })
          : "") +
        (r.phase ? " \u00b7 " + tr("map.phase_short", { phase: r.phase }) : "");
      resultBlock(det, r, true);
    });
    return d;
  }
  function plainPopup(title, fields) {
    var d = el("div", "gp-popup");
    el("h3", "", d, title);
    if (fields && fields.length) {
      var tbl = el("table", "gp-kv", d);
      fields.forEach(function (kv) {
        var row = el("tr", "", tbl);
        var fk = "map.field." + kv[0];
        /* a coded value (PRK, west, EDZ, True ...) in words; anything else as it is */
        var vk = "map.value." + kv[0] + "." + String(kv[1]).toLowerCase()
          .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
        el("th", "", row, D.t[fk] !== undefined ? D.t[fk] : kv[0]);
        el("td", "", row, D.t[vk] !== undefined ? D.t[vk] : kv[1]);
      });
    }
    return d;
  }

  /* ---------- layers ---------- */
  /* A non-interactive basemap shape on a shared L.canvas renderer: its GeoJSON rings are
     projected to Web Mercator once (typed arrays) and drawn in one path, without the
     per-point objects, clipping and simplification of L.Polyline (the basemap is most of
     the page's points and none of its clicks). */
  var R3857 = 6378137, DEG = Math.PI / 180, HALF = 0.5 / (Math.PI * R3857);
  /* packed geometries (webmap.pack_geometry): one flat list of integers, depth first: each
     sequence's length, each point's x and y deltas from the one before. `leaf(xy, n)` turns
     the n integer pairs of one innermost sequence into what the caller keeps. */
  var DEPTH = { Point: 0, MultiPoint: 1, LineString: 1, Polygon: 2, MultiLineString: 2,
    MultiPolygon: 3 };
  function unpackWith(g, leaf) {
    var v = g.p, i = 0, x = 0, y = 0;
    function seq(m) {
      var a = new Float64Array(2 * m);
      for (var j = 0; j < 2 * m; j += 2) {
        x += v[i];
        y += v[i + 1];
        i += 2;
        a[j] = x;
        a[j + 1] = y;
      }
      return a;
    }
    function rd(d) {
      if (d === 0) return leaf(seq(1), 1);
      var m = v[i++];
      if (d === 1) return leaf(seq(m), m);
      var out = new Array(m);
      for (var j = 0; j < m; j++) out[j] = rd(d - 1);
      return out;
    }
    return rd(DEPTH[g.type]);
  }
  /* a packed geometry as GeoJSON (degrees; Web Mercator ones back to degrees); anything
     else as it is */
  function unpack(g) {
    if (!g || !Array.isArray(g.p)) return g;
    var merc = g.m !== undefined, k = merc ? Math.pow(2, g.m) : Math.pow(10, g.k);
    var point = g.type === "Point";
    var c = unpackWith(g, function (a, n) {
      var out = new Array(n);
      for (var j = 0; j < n; j++) {
        var x = a[2 * j] / k, y = a[2 * j + 1] / k;
        out[j] = merc ? [360 * x - 180, Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) / DEG]
          : [x, y];
      }
      return point ? out[0] : out;
    });
    return { type: g.type, coordinates: c };
  }
  G.unpack = unpack;
  function unpackFc(fc) {
    (fc && fc.features || []).forEach(function (f) {
      f.geometry = unpack(f.geometry);
    });
    return fc;
  }
  function mercRings(geom, out) {
    if (Array.isArray(geom.p) && geom.m !== undefined) {
      var u = 1 / Math.pow(2, geom.m);
      var flat = function (x) {
        if (x instanceof Float64Array) out.push(x);
        else x.forEach(flat);
      };
      flat(unpackWith(geom, function (a) {
        for (var j = 0; j < a.length; j++) a[j] *= u;
        return a;
      }));
      return out;
    }
    var t = geom.type, c = geom.coordinates;
    var polys = t === "Polygon" || t === "LineString" ? [c] : t === "MultiPolygon" ||
      t === "MultiLineString" ? c : [];
    if (t === "LineString" || t === "MultiLineString") {
      polys = polys.map(function (l) {
        return [l];
      });
    }
    if (t === "GeometryCollection") {
      geom.geometries.forEach(function (g) {
        mercRings(g, out);
      });
      return out;
    }
    polys.forEach(function (rings) {
      rings.forEach(function (ring) {
        var a = new Float64Array(2 * ring.length);
        for (var i = 0; i < ring.length; i++) {
          var sn = Math.sin(Math.max(Math.min(ring[i][1], 85.0511287798), -85.0511287798) * DEG);
          a[2 * i] = (R3857 * ring[i][0] * DEG) * HALF + 0.5;
          a[2 * i + 1] = (-R3857 * Math.log((1 + sn) / (1 - sn)) / 2) * HALF + 0.5;
        }
        out.push(a);
      });
    });
    return out;
  }
  var FastShape = L.Path.extend({
    options: { interactive: false },
    initialize: function (geometries, options) {
      L.setOptions(this, options);
      var m = (this._m = []);
      geometries.forEach(function (g) {
        mercRings(g, m);
      });
      this._n = geometries.length; /* features drawn by this one path */
      this._closed = geometries.length > 0 && /Polygon/.test(geometries[0].type);
    },
    _project: function () {
      var map = this._map, k = 256 * Math.pow(2, map.getZoom()), o = map.getPixelOrigin();
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      this._px = this._m.map(function (a) {
        var p = new Float32Array(a.length);
        for (var i = 0; i < a.length; i += 2) {
          var x = a[i] * k - o.x, y = a[i + 1] * k - o.y;
          p[i] = x;
          p[i + 1] = y;
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
        return p;
      });
      var w = this._clickTolerance();
      this._pxBounds = this._px.length ? L.bounds([x0 - w, y0 - w], [x1 + w, y1 + w]) : null;
    },
    _update: function () {},
    _updatePath: function () {
      var r = this._renderer;
      if (!r._drawing || !this._pxBounds || !r._bounds.intersects(this._pxBounds)) return;
      var ctx = r._ctx, closed = this._closed;
      ctx.beginPath();
      this._px.forEach(function (p) {
        var lx = p[0], ly = p[1];
        ctx.moveTo(lx, ly);
        for (var i = 2; i < p.length; i += 2) {
          var x = p[i], y = p[i + 1];
          if (Math.abs(x - lx) + Math.abs(y - ly) < 0.7 && i < p.length - 2) continue;
          ctx.lineTo(x, y);
          lx = x;
          ly = y;
        }
        if (closed) ctx.closePath();
      });
      r._fillStroke(ctx, this);
    },
    _containsPoint: function () {
      return false;
    },
  });
  /* a FeatureCollection as a few FastShapes, one per style (and polygons apart from lines),
     in a layer group: few objects on the canvas, each drawn as one path */
  function fastGroup(fc, renderer, pane, style) {
    var g = L.layerGroup(), buckets = {}, order = [];
    (fc.features || []).forEach(function (f) {
      if (!f.geometry) return;
      var st = typeof style === "function" ? style(f) : style;
      var closed = /Polygon/.test(f.geometry.type);
      var key = JSON.stringify(st) + closed;
      if (!buckets[key]) {
        buckets[key] = { st: st, closed: closed, geoms: [] };
        order.push(key);
      }
      buckets[key].geoms.push(f.geometry);
    });
    order.forEach(function (key) {
      var b = buckets[key];
      g.addLayer(new FastShape(b.geoms, L.extend({ pane: pane, renderer: renderer,
        fill: b.closed }, b.st)));
    });
    return g;
  }
  function pane(name, z) {
    map.createPane(name).style.zIndex = z;
  }
  /* the basemap's layers share one canvas, drawn in the order added: a layer switched back
     on goes to the top, so put the ones above it back over it */
  var BASE_ORDER = ["land", "water", "provinces", "coast"];
  function restack() {
    BASE_ORDER.forEach(function (k) {
      if (overlays[k] && map.hasLayer(overlays[k])) {
        overlays[k].eachLayer(function (g) {
          g.eachLayer(function (l) {
            l.bringToFront();
          });
        });
      }
    });
  }
  G.basemapOrder = function () {
    /* the basemap's layers in drawing order (for tests): [overlay key, feature count] */
    var out = [], cv = null;
    overlays.land.eachLayer(function (g) {
      g.eachLayer(function (l) {
        cv = l._renderer;
      });
    });
    for (var o = cv && cv._drawFirst; o; o = o.next) {
      var key = BASE_ORDER.filter(function (k) {
        var hit = false;
        overlays[k].eachLayer(function (g) {
          if (g.hasLayer(o.layer)) hit = true;
        });
        return hit;
      })[0];
      if (out.length && out[out.length - 1][0] === key) out[out.length - 1][1] += o.layer._n;
      else out.push([key, o.layer._n]);
    }
    return out;
  };
  function viewLimits() {
    /* the neighbouring land is cut to a rectangle: never let the view reach its edge. Set
       before any layer is drawn, without animation, so nothing is drawn twice on load. */
    var B = D.basemap;
    /* the opening view: fitted here without animation (a pan animation ending after the
       layers are drawn would project and draw every one of them again) */
    if (D.fit) map.fitBounds(D.fit, { animate: false });
    if (!B.land_bounds) return;
    var lb = L.latLngBounds(B.land_bounds).pad(-0.01);
    var fit = function () {
      map.setMinZoom(Math.ceil(map.getBoundsZoom(lb, true) * 4) / 4);
    };
    map.options.zoomSnap = 0.25;
    fit();
    map.panInsideBounds(lb, { animate: false });
    map.setMaxBounds(lb);
    map.options.maxBoundsViscosity = 1.0;
    map.on("resize", fit);
  }
  function basemap() {
    var B = D.basemap;
    overlays.cities = L.layerGroup().addTo(map); /* filled by cities() */
    var t0 = performance.now();
    var cv = L.canvas({ pane: "gpLand", padding: 0.1 });
    overlays.land = L.layerGroup();
    if (B.land) {
      fastGroup(B.land, cv, "gpLand",
        { color: "#c9c4b8", weight: 0.6, fillColor: "#ece9e2", fillOpacity: 1 })
        .addTo(overlays.land);
    }
    fastGroup(B.countries, cv, "gpLand", function (f) {
      return { color: "#777", weight: 1, fillOpacity: 1,
        fillColor: f.properties.iso === "PRK" ? "#fbf7e8" : "#eeeeea" };
    }).addTo(overlays.land);
    overlays.land.addTo(map);
    /* rivers and lakes, then province lines, beneath the coast and everything else */
    overlays.water = L.layerGroup();
    if (B.lakes) {
      fastGroup(B.lakes, cv, "gpLand", { color: "#6b93b8", weight: 0.6, fillColor: "#cfe2f3",
        fillOpacity: 1 }).addTo(overlays.water);
    }
    if (B.rivers) {
      fastGroup(B.rivers, cv, "gpLand", { color: "#3d85c6", weight: 1.4, fill: false })
        .addTo(overlays.water);
    }
    overlays.water.addTo(map);
    overlays.provinces = L.layerGroup();
    if (B.provinces) {
      fastGroup(B.provinces, cv, "gpLand", { color: "#8a8a8a", weight: 0.8, dashArray: "4 3",
        fill: false }).addTo(overlays.provinces);
    }
    overlays.provinces.addTo(map);
    overlays.coast = L.layerGroup();
    if (B.coast) {
      fastGroup(B.coast, cv, "gpLand", { color: "#6b93b8", weight: 1, fill: false })
        .addTo(overlays.coast);
    }
    overlays.coast.addTo(map);
    G.timing.land = performance.now() - t0;
  }
  function cities() {
    /* city labels: largest first, skipped when they would collide */
    var B = D.basemap;
    var cities = (B.cities || []).map(function (c) {
      var icon = L.divIcon({ className: "gp-city", iconSize: null, iconAnchor: [3, 3],
        html: "" });
      var m = L.marker([c.lat, c.lon], { icon: icon, pane: "gpLabels", interactive: false,
        keyboard: false });
      m.on("add", function () {
        var e = m.getElement();
        if (e && !e.firstChild) {
          el("span", "gp-dot", e);
          el("span", "gp-city-label", e, c.label);
        }
      });
      return { c: c, m: m, w: 8 + c.label.length * (/[\u1100-\uffff]/.test(c.label) ? 10 : 6.3) };
    });
    function declutter() {
      if (!map.hasLayer(overlays.cities)) return;
      var kept = [], size = map.getSize();
      cities.forEach(function (x) {
        var p = map.latLngToContainerPoint([x.c.lat, x.c.lon]);
        var b = [p.x - 3, p.y - 8, p.x + x.w, p.y + 8];
        var ok = b[2] > 0 && b[0] < size.x && b[3] > 0 && b[1] < size.y &&
          (x.c.iso === "PRK" || x.c.pop >= 1500000);
        for (var i = 0; ok && i < kept.length; i++) {
          var k = kept[i];
          if (b[0] < k[2] && b[2] > k[0] && b[1] < k[3] && b[3] > k[1]) ok = false;
        }
        if (ok) {
          kept.push(b);
          overlays.cities.addLayer(x.m);
        } else {
          overlays.cities.removeLayer(x.m);
        }
      });
    }
    map.on("zoomend moveend", declutter);
    overlays.cities.on("add", declutter);
    declutter();
    (B.cities || []).forEach(function (c) {
      searchIndex.push({ words: [c.name, c.ko], label: c.label,
        kind: tr("map.kind.city"), latlng: [c.lat, c.lon] });
    });
  }
  function placeholders() {
    /* every toggled overlay exists (empty) from the start, so the layer tree can be built
       before the overlays are drawn */
    Object.keys(INFRA).forEach(function (key) {
      if (!D.infra[key]) return;
      overlays[key] = L.layerGroup();
      if (key !== "economic_zones") overlays[key].addTo(map);
    });
    (D.user_layers || []).forEach(function (u) {
      overlays["user:" + u.id] = L.layerGroup().addTo(map);
    });
    overlays.mdl = L.layerGroup().addTo(map);
    overlays.belts = L.layerGroup().addTo(map);
    overlays.dmz = L.layerGroup().addTo(map);
  }
  function infra() {
    Object.keys(INFRA).forEach(function (key) {
      var data = D.infra[key];
      if (!data) return;
      var st = INFRA[key];
      L.geoJSON(unpackFc(data), {
        pane: key === "railways" || key === "roads" ? "gpInfraLines" : "gpInfra",
        style: function () {
          return { color: st.color, weight: st.weight || 1.2, dashArray: st.dash || null,
            fillColor: st.fill, fillOpacity: 0.95 };
        },
        pointToLayer: function (f, ll) {
          var r = st.r;
          if (key === "ports") r = 4 + 2.5 * Math.log10(1 + (f.properties.cap || 0));
          return L.circleMarker(ll, { radius: r, pane: "gpInfra" });
        },
        onEachFeature: function (f, l) {
          var p = f.properties;
          l.bindTooltip(function () {
            return text(p.label || tr("map.layer." + key));
          });
          l.bindPopup(function () {
            return plainPopup(p.label || tr("map.layer." + key), p.fields);
          });
          if (key === "ports" || key === "economic_zones" || key === "border_crossings") {
            var ll = l.getLatLng ? l.getLatLng() : l.getBounds().getCenter();
            searchIndex.push({ words: [p.name, p.ko], label: p.label,
              kind: tr("map.layer." + key), latlng: [ll.lat, ll.lng], layer: l });
          }
        },
      }).addTo(overlays[key]);
    });
  }
  function userLayers() {
    /* layers the scenario names (masks, imported OSM layers): drawn plainly, names as text */
    (D.user_layers || []).forEach(function (u) {
      L.geoJSON(unpackFc(u.data), {
        pane: "gpInfra",
        style: function () {
          return u.mask
            ? { color: "#444", weight: 1, dashArray: "3 3", fillColor: "#444", fillOpacity: 0.25 }
            : { color: "#6a3d9a", weight: 1.4, fillColor: "#cab2d6", fillOpacity: 0.3 };
        },
        pointToLayer: function (f, ll) {
          return L.circleMarker(ll, { radius: 4, pane: "gpInfra", color: "#6a3d9a",
            fillColor: "#cab2d6", fillOpacity: 0.9 });
        },
        onEachFeature: function (f, l) {
          var p = f.properties;
          l.bindTooltip(function () {
            return text(p.label);
          });
          l.bindPopup(function () {
            return plainPopup(p.label, p.fields);
          });
        },
      }).addTo(overlays["user:" + u.id]);
    });
  }
  function planning() {
    var P = D.planning, B = D.basemap;
    if (B.mdl) {
      L.geoJSON(unpackFc(B.mdl), { pane: "gpPlanning",
        style: { color: "#b30000", weight: 2, dashArray: "6 3" },
        onEachFeature: function (f, l) {
          l.bindTooltip(tr("map.layer.mdl"));
        } }).addTo(overlays.mdl);
    }
    var cv = L.canvas({ pane: "gpPlanning", padding: 0.2 });
    if (P.belts) {
      L.geoJSON(unpackFc(P.belts), { pane: "gpPlanning", renderer: cv,
        style: function (f) {
          var c = BELT[f.properties.belt] || "#888";
          return { color: c, weight: 1.5, dashArray: "4 3", fillColor: c, fillOpacity: 0.06 };
        },
        onEachFeature: function (f, l) {
          var p = f.properties;
          l.bindTooltip(function () {
            return text(tr("map.belt_tip", { belt: p.label, area: fmt(p.area, 0),
              net: fmt(p.net, 0) }));
          }, { sticky: true });
        } }).addTo(overlays.belts);
    }
    if (P.dmz) {
      L.geoJSON(unpackFc(P.dmz), { pane: "gpPlanning", renderer: cv,
        style: { color: "#555", weight: 0.5, fillColor: "#555", fillOpacity: 0.4 },
        onEachFeature: function (f, l) {
          l.bindTooltip(tr("map.layer.dmz"), { sticky: true });
        } }).addTo(overlays.dmz);
    }
  }
  /* one icon per shape, shared by its markers (each marker makes its own element from it) */
  var ICONS = {};
  function badge(r, shape) {
    return ICONS[shape] || (ICONS[shape] = L.divIcon({
      className: "gp-mark gp-" + shape,
      iconSize: [20, 20],
      iconAnchor: [10, 10],
      popupAnchor: [0, -8],
      html: "",
    }));
  }
  function paintMarker(m, r) {
    var e = m.getElement();
    if (!e) return;
    var c = scoreColor(r ? r.score : null);
    e.style.background = c;
    e.style.color = ink(c);
    e.textContent = r && r.phase ? String(r.phase) : "\u2013";
    e.setAttribute("data-phase", r && r.phase ? r.phase : 0);
    if (r && r.kind === "zone") e.setAttribute("data-id", r.id);
  }
  function results() {
    D.profiles.forEach(function (p) {
      rowsBy[p.id] = [];
    });
    D.zones.forEach(function (z) {
      var r = z;
      r.zone = z;
      r.score0 = r.score;
      r.rank0 = r.rank;
      if (!rowsBy[r.profile]) return;
      rowsBy[r.profile].push(r);
      searchIndex.push({ words: [z.name, z.ko, z.place_plain, z.place_ko], label: z.label, kind: tr("kind.zone"),
        sub: (profileOf(r.profile) || {}).label + " \u00b7 " + beltLabel(r.belt), row: r });
    });
    siteLayer = L.layerGroup().addTo(map);
    D.sites.forEach(function (s) {
      var m = L.marker([s.lat, s.lon], { icon: badge(null, "site"), pane: "gpMarkers" });
      s.marker = m;
      s.results.forEach(function (r) {
        r.site = s;
        r.kind = "site";
        r.score0 = r.score;
        r.rank0 = r.rank;
        r.marker = m;
        if (rowsBy[r.profile]) rowsBy[r.profile].push(r);
      });
      m.bindPopup(function () {
        return sitePopup(s);
      }, popOpts());
      m.bindTooltip(function () {
        var r = state.profile === "*" ? shownResult(s.results) : current(s);
        return text(s.label + (r && r.score !== null ? " \u2014 " + fmt(r.score, 3) : ""));
      }, { direction: "top", offset: [0, -10] });
      m.on("add", function () {
        paintMarker(m, current(s));
      });
      siteLayer.addLayer(m);
      searchIndex.push({ words: [s.name, s.ko], label: s.label,
        kind: tr("kind.site"), sub: tr("map.popup.all_profiles"), site: s });
    });
  }
  /* a profile's zone polygons and badges, built the first time the profile is shown */
  function zoneLayers(pid) {
    if (zoneGroups[pid]) return zoneGroups[pid];
    var g = (zoneGroups[pid] = L.layerGroup());
    rowsBy[pid].forEach(function (r) {
      if (r.kind === "site") return;
      var z = r.zone;
      var poly = z.geom ? L.geoJSON(unpack(z.geom), { pane: "gpZones",
        style: { color: "#111", weight: 1.5, fillOpacity: 0.8, className: "geoplan-zone" } })
        : null;
      var m = L.marker([z.lat, z.lon], { icon: badge(r, "zone"), pane: "gpMarkers",
        riseOnHover: true, title: "" });
      r.marker = m;
      r.poly = poly;
      var pop = function () {
        return zonePopup(r);
      };
      m.bindPopup(pop, popOpts());
      m.bindTooltip(function () {
        return text(z.label + " \u2014 " +
          (r.score === null ? tr("map.unranked") : fmt(r.score, 3)));
      }, { direction: "top", offset: [0, -10] });
      m.on("add", function () {
        paintMarker(m, r);
      });
      if (poly) {
        poly.bindPopup(pop, popOpts());
        g.addLayer(poly);
      }
      g.addLayer(m);
    });
    return g;
  }
  /* of a site's results under every profile, the one its marker shows: among those the
     filters let through, the earliest phase, then the best score */
  function shownResult(rs) {
    return rs.filter(passes).sort(function (a, b) {
      return (a.phase || 9) - (b.phase || 9) || (b.score || 0) - (a.score || 0);
    })[0] || null;
  }
  function current(s) {
    for (var i = 0; i < s.results.length; i++) {
      if (s.results[i].profile === state.profile) return s.results[i];
    }
    return null;
  }
  function passes(r) {
    if (!r) return false;
    if (state.belt && r.belt !== state.belt) return false;
    if (r.phase && !state.phases[r.phase]) return false;
    if (r.score === null) return state.min <= 0;
    return r.score >= state.min - 1e-12 && r.score <= state.max + 1e-12;
  }
  function visibleProfiles() {
    return state.profile === "*" ? D.profiles.map(function (p) {
      return p.id;
    }) : [state.profile];
  }
  function refresh() {
    var vis = visibleProfiles();
    D.profiles.forEach(function (p) {
      var on = vis.indexOf(p.id) >= 0 && map.hasLayer(overlays.zonesRoot);
      if (!on) {
        if (zoneGroups[p.id] && map.hasLayer(zoneGroups[p.id])) map.removeLayer(zoneGroups[p.id]);
        return;
      }
      var g = zoneLayers(p.id);
      rowsBy[p.id].forEach(function (r) {
        if (r.kind !== "zone") return;
        var show = on && passes(r);
        [r.marker, r.poly].forEach(function (l) {
          if (!l) return;
          if (show && !g.hasLayer(l)) g.addLayer(l);
          if (!show && g.hasLayer(l)) g.removeLayer(l);
        });
        if (r.poly && r.poly._gpScore !== r.score) {
          r.poly.setStyle({ fillColor: color(r.score) });
          r.poly._gpScore = r.score;
        }
        if (show) paintMarker(r.marker, r);
      });
      if (on && !map.hasLayer(g)) g.addTo(map);
      if (!on && map.hasLayer(g)) map.removeLayer(g);
    });
    D.sites.forEach(function (s) {
      var rs = s.results.filter(function (r) {
        return vis.indexOf(r.profile) >= 0;
      });
      var show = map.hasLayer(overlays.sitesRoot) && rs.some(passes);
      if (show && !siteLayer.hasLayer(s.marker)) siteLayer.addLayer(s.marker);
      if (!show && siteLayer.hasLayer(s.marker)) siteLayer.removeLayer(s.marker);
      if (show) paintMarker(s.marker, state.profile === "*" ? shownResult(rs) : current(s));
    });
    renderList();
  }

  /* ---------- side panel ---------- */
  /* one row of the ranked list, cloned from a template (cheaper than building each) */
  var rowTpl = null, colorOf = {};
  function scoreColor(v) {
    var k = String(v);
    return colorOf[k] || (colorOf[k] = color(v));
  }
  function renderList() {
    if (!listEl) return;
    if (!rowTpl) {
      rowTpl = el("li", "gp-row");
      rowTpl.tabIndex = 0;
      ["gp-rk", "gp-badge", "gp-nm", "gp-sc"].forEach(function (c) {
        el("span", c, rowTpl);
      });
      el("div", "gp-meta", rowTpl);
    }
    var frag = document.createDocumentFragment();
    var zonesOn = map.hasLayer(overlays.zonesRoot), sitesOn = map.hasLayer(overlays.sitesRoot);
    var kindZone = tr("kind.zone"), kindSite = tr("kind.site"), unranked = tr("map.unranked");
    visibleProfiles().forEach(function (pid) {
      var prof = profileOf(pid);
      var rows = rowsBy[pid].filter(function (r) {
        return passes(r) && (r.kind === "zone" ? zonesOn : sitesOn);
      });
      if (state.profile === "*") el("h3", "gp-list-prof", frag, prof.label);
      D.belts.forEach(function (b) {
        var inBelt = rows.filter(function (r) {
          return r.belt === b.id;
        });
        if (!inBelt.length) return;
        inBelt.sort(function (p, q) {
          return (p.rank || 1e9) - (q.rank || 1e9) || (p.id < q.id ? -1 : 1);
        });
        el("h4", "gp-list-belt", frag, b.label);
        var ol = el("ol", "gp-rank", frag);
        inBelt.forEach(function (r) {
          var li = rowTpl.cloneNode(true), c = li.childNodes, bg = scoreColor(r.score);
          li.setAttribute("data-id", r.id);
          li.gpRow = r;
          c[0].textContent = r.rank ? "#" + r.rank : "\u2013";
          c[1].className = "gp-badge gp-" + r.kind;
          c[1].textContent = r.phase || "\u2013";
          c[1].style.background = bg;
          c[1].style.color = ink(bg);
          c[2].textContent = r.kind === "zone" ? r.zone.label : r.site.label;
          c[2].title = r.kind === "zone" ? kindZone : kindSite;
          c[3].textContent = r.score === null ? unranked : fmt(r.score, 3);
          var meta = [phaseText(r.phase), tr("map.priority", { n: r.priority || "\u2013" })];
          var rb = robustText(r);
          if (rb) meta.push(rb);
          c[4].textContent = meta.join(" \u00b7 ");
          ol.appendChild(li);
        });
      });
    });
    if (!frag.firstChild) el("p", "gp-empty", frag, tr("map.panel.empty"));
    listEl.textContent = "";
    listEl.appendChild(frag);
  }
  /* the list's rows open their zone or site: one listener for all of them */
  function listEvents(list) {
    function row(e) {
      var li = e.target.closest ? e.target.closest("li.gp-row") : null;
      return li && li.gpRow ? li.gpRow : null;
    }
    list.addEventListener("click", function (e) {
      var r = row(e);
      if (r) focus(r);
    });
    list.addEventListener("keydown", function (e) {
      var r = e.key === "Enter" ? row(e) : null;
      if (r) focus(r);
    });
  }
  function focus(r) {
    collapseAll();
    if (r.kind === "zone" && state.profile !== "*" && state.profile !== r.profile) {
      setProfile(r.profile);
    }
    if (r.kind === "zone") zoneLayers(r.profile);
    var ll = L.latLng(r.marker.getLatLng());
    var z = Math.max(map.getZoom(), 10);
    if (r.poly) {
      map.fitBounds(r.poly.getBounds(), { maxZoom: 11, animate: false, padding: [60, 60] });
    } else {
      map.setView(ll, z, { animate: false });
    }
    if (!map.hasLayer(r.marker)) {
      (r.kind === "zone" ? zoneLayers(r.profile) : siteLayer).addLayer(r.marker);
    }
    r.marker.openPopup();
  }
  G.focus = function (id) {
    for (var p in rowsBy) {
      for (var i = 0; i < rowsBy[p].length; i++) {
        if (rowsBy[p][i].id === id) return focus(rowsBy[p][i]);
      }
    }
  };
  function setProfile(pid) {
    state.profile = pid;
    document.querySelectorAll("select.gp-profile").forEach(function (s) {
      s.value = pid;
    });
    refresh();
    buildWhatif();
  }
  G.setProfile = setProfile;
  G.setFilter = function (f) {
    if (f.belt !== undefined) state.belt = f.belt;
    if (f.min !== undefined) state.min = f.min;
    if (f.max !== undefined) state.max = f.max;
    if (f.phases) state.phases = f.phases;
    refresh();
  };
  function panel() {
    control("topright", "gp-panel", function (c) {
      var body = collapsible(c, tr("map.panel.title"), true);
      var f = el("div", "gp-filters", body);
      var l1 = el("label", "", f, tr("map.panel.profile") + " ");
      var sel = el("select", "gp-profile", l1);
      D.profiles.forEach(function (p) {
        var o = el("option", "", sel, p.label);
        o.value = p.id;
      });
      el("option", "", sel, tr("map.panel.all_profiles")).value = "*";
      sel.value = state.profile;
      sel.addEventListener("change", function () {
        setProfile(sel.value);
      });
      var l2 = el("label", "", f, tr("map.panel.belt") + " ");
      var bs = el("select", "gp-belt", l2);
      el("option", "", bs, tr("map.panel.all_belts")).value = "";
      D.belts.forEach(function (b) {
        el("option", "", bs, b.label).value = b.id;
      });
      bs.addEventListener("change", function () {
        state.belt = bs.value;
        refresh();
      });
      var ph = el("div", "gp-phases", f, tr("map.panel.phases") + " ");
      [1, 2, 3].forEach(function (p) {
        var lb = el("label", "", ph);
        var cb = el("input", "", lb);
        cb.type = "checkbox";
        cb.checked = true;
        cb.className = "gp-phase-cb";
        cb.value = String(p);
        el("span", "gp-badge gp-zone", lb, p);
        cb.addEventListener("change", function () {
          state.phases[p] = cb.checked;
          refresh();
        });
      });
      var sr = el("div", "gp-range", f, tr("map.panel.score") + " ");
      ["min", "max"].forEach(function (k) {
        var inp = el("input", "gp-score-" + k, sr);
        inp.type = "number";
        inp.min = "0";
        inp.max = "1";
        inp.step = "0.05";
        inp.value = String(state[k]);
        inp.setAttribute("aria-label", tr("map.panel.score_" + k));
        inp.addEventListener("input", function () {
          var v = parseFloat(inp.value);
          state[k] = isFinite(v) ? v : k === "min" ? 0 : 1;
          refresh();
        });
        if (k === "min") el("span", "", sr, " \u2013 ");
      });
      listEl = el("div", "gp-list", body);
      listEvents(listEl);
      wifBox = el("details", "gp-whatif", body);
      buildWhatif();
    });
  }

  /* ---------- what-if ---------- */
  var weightsBy = {};
  function applyWeights(pid, weights) {
    var t0 = performance.now();
    var prof = profileOf(pid);
    var w = G.score.normalise(weights.map(Number));
    weightsBy[pid] = w;
    var rows = rowsBy[pid];
    rows.forEach(function (r) {
      r.weights = w;
      r.score = r.ok ? G.score.aggregate(r.S, w, D.method, D.order_weights) : null;
    });
    G.score.rank(rows);
    refresh();
    var open = map._popup;
    if (open && open.isOpen && open.isOpen() && open._source && open._source.getPopup) {
      open._source.openPopup();
    }
    var ms = performance.now() - t0;
    G.whatif.lastMs = ms;
    if (statusEl) {
      statusEl.textContent = tr("map.whatif.timing", { n: rows.length, ms: fmt(ms, 1) });
    }
    return prof;
  }
  G.whatif = {
    lastMs: null,
    /* re-score every zone and site of a profile with these weights; returns {id: score} */
    score: function (pid, weights) {
      applyWeights(pid, weights);
      syncSliders(pid);
      var out = {};
      rowsBy[pid].forEach(function (r) {
        out[r.id] = r.score;
      });
      return out;
    },
    ranks: function (pid) {
      var out = {};
      rowsBy[pid].forEach(function (r) {
        out[r.id] = r.rank;
      });
      return out;
    },
    reset: function (pid) {
      var prof = profileOf(pid);
      rowsBy[pid].forEach(function (r) {
        r.score = r.score0;
        r.rank = r.rank0;
        r.weights = null;
      });
      delete weightsBy[pid];
      refresh();
      syncSliders(pid);
      return prof;
    },
    yaml: function () {
      /* the changed profiles' weights, merged over the default scenario by `geoplan run`; the
         comment says so and gives the same weights as --set options for the run's own
         scenario file (plain ids only: nothing in a comment may start a new line) */
      var lines = ["profiles:"], sets = [];
      var plain = function (s) {
        return /^[A-Za-z0-9_-]+$/.test(s);
      };
      D.profiles.forEach(function (p) {
        var w = weightsBy[p.id];
        if (!w) return;
        lines.push("  " + JSON.stringify(p.id) + ":");
        if (p.ahp) lines.push("    ahp: null");
        lines.push("    criteria:");
        var ok = plain(p.id);
        p.criteria.forEach(function (c, j) {
          var v = Number(w[j].toFixed(6));
          lines.push("      - {criterion: " + JSON.stringify(c.id) + ", weight: " + v + "}");
          ok = ok && plain(c.id);
        });
        if (!ok) return;
        if (p.ahp) sets.push("profiles." + p.id + ".ahp=null");
        p.criteria.forEach(function (c, j) {
          sets.push("profiles." + p.id + ".criteria." + c.id + ".weight=" +
            Number(w[j].toFixed(6)));
        });
      });
      if (lines.length === 1) return "profiles: {}\n";
      var name = JSON.stringify(D.title).replace(/[\u0085\u2028\u2029]/g, " ");
      var head = ["# " + tr("map.whatif.yaml_from", { name: name }),
        "# " + tr("map.whatif.yaml_merge")];
      if (sets.length) {
        head.push("#   geoplan run SCENARIO.yaml " + sets.map(function (x) {
          return "--set " + x;
        }).join(" "));
      }
      return head.concat(lines).join("\n") + "\n";
    },
  };
  function syncSliders(pid) {
    if (!wifBox || pid !== state.profile) return;
    var prof = profileOf(pid);
    var w = weightsBy[pid] || prof.criteria.map(function (c) {
      return c.weight;
    });
    wifBox.querySelectorAll("input.gp-slider").forEach(function (s, j) {
      s.value = String(w[j]);
      s.nextSibling.textContent = fmt(100 * w[j], 0) + " %";
    });
  }
  function buildWhatif() {
    if (!wifBox) return;
    wifBox.textContent = "";
    el("summary", "", wifBox, tr("map.whatif.title"));
    var prof = profileOf(state.profile);
    if (!prof) {
      el("p", "gp-empty", wifBox, tr("map.whatif.pick"));
      return;
    }
    el("p", "gp-help", wifBox, tr("map.whatif.help", { profile: prof.label }));
    var w = weightsBy[prof.id] || prof.criteria.map(function (c) {
      return c.weight;
    });
    prof.criteria.forEach(function (c, j) {
      var row = el("label", "gp-wrow", wifBox);
      el("span", "gp-wlabel", row, c.label);
      var s = el("input", "gp-slider", row);
      s.type = "range";
      s.min = "0";
      s.max = "1";
      s.step = "any";
      s.value = String(w[j]);
      s.setAttribute("data-criterion", c.id);
      el("span", "gp-wval", row, fmt(100 * w[j], 0) + " %");
      s.addEventListener("input", function () {
        var vals = [];
        wifBox.querySelectorAll("input.gp-slider").forEach(function (x) {
          vals.push(parseFloat(x.value));
        });
        applyWeights(prof.id, vals);
        var wn = weightsBy[prof.id];
        wifBox.querySelectorAll("span.gp-wval").forEach(function (x, j) {
          x.textContent = fmt(100 * wn[j], 0) + " %";
        });
      });
    });
    var bar = el("div", "gp-wbtns", wifBox);
    var reset = el("button", "gp-reset", bar, tr("map.whatif.reset"));
    reset.type = "button";
    reset.addEventListener("click", function () {
      G.whatif.reset(prof.id);
    });
    var copy = el("button", "gp-copy", bar, tr("map.whatif.copy"));
    copy.type = "button";
    var out = el("textarea", "gp-yaml", wifBox);
    out.readOnly = true;
    out.rows = 6;
    out.setAttribute("aria-label", tr("map.whatif.copy"));
    copy.addEventListener("click", function () {
      out.value = G.whatif.yaml();
      out.style.display = "block";
      out.select();
      try {
        if (navigator.clipboard) navigator.clipboard.writeText(out.value).catch(function () {});
      } catch (e) { /* clipboard unavailable offline: the text stays selected */ }
    });
    statusEl = el("div", "gp-status", wifBox);
  }

  /* ---------- layer tree, legend, search, title ---------- */
  function layerTree() {
    control("topright", "gp-layers", function (c) {
      var body = collapsible(c, tr("map.layers.title"), false);
      function group(title) {
        var g = el("fieldset", "gp-group", body);
        el("legend", "", g, title);
        return g;
      }
      function toggle(g, key, label) {
        var l = overlays[key];
        if (!l) return;
        var lb = el("label", "gp-toggle", g);
        var cb = el("input", "", lb);
        cb.type = "checkbox";
        cb.checked = map.hasLayer(l);
        cb.setAttribute("data-layer", key);
        el("span", "", lb, " " + label);
        cb.addEventListener("change", function () {
          if (cb.checked) l.addTo(map);
          else map.removeLayer(l);
          if (cb.checked && BASE_ORDER.indexOf(key) >= 0) restack();
          refresh();
        });
      }
      var b = group(tr("map.group.basemap"));
      toggle(b, "land", tr("map.layer.land"));
      toggle(b, "water", tr("map.layer.water"));
      toggle(b, "provinces", tr("map.layer.provinces"));
      toggle(b, "coast", tr("map.layer.coast"));
      toggle(b, "mdl", tr("map.layer.mdl"));
      toggle(b, "cities", tr("map.layer.cities"));
      var inf = group(tr("map.group.infrastructure"));
      Object.keys(INFRA).forEach(function (k) {
        toggle(inf, k, tr("map.layer." + k));
      });
      if ((D.user_layers || []).length) {
        var ug = group(tr("map.group.user"));
        D.user_layers.forEach(function (u) {
          toggle(ug, "user:" + u.id, u.id);
        });
      }
      var pl = group(tr("map.group.planning"));
      toggle(pl, "belts", tr("map.layer.belts"));
      toggle(pl, "dmz", tr("map.layer.dmz"));
      var rs = group(tr("map.group.results"));
      toggle(rs, "zonesRoot", tr("map.layer.zones"));
      toggle(rs, "sitesRoot", tr("map.layer.sites"));
      el("div", "gp-sub", rs, tr("map.layer.surface"));
      var opts = [["", tr("map.layer.surface_none")]].concat(D.profiles.filter(function (p) {
        return D.surfaces[p.id];
      }).map(function (p) {
        return [p.id, p.label];
      }));
      opts.forEach(function (o) {
        var lb = el("label", "gp-toggle", rs);
        var rb = el("input", "", lb);
        rb.type = "radio";
        rb.name = "gp-surface";
        rb.value = o[0];
        rb.checked = o[0] === "";
        el("span", "", lb, " " + o[1]);
        rb.addEventListener("change", function () {
          if (rb.checked) G.showSurface(o[0]);
        });
      });
    });
  }
  G.showSurface = function (pid) {
    if (surfaceLayer) map.removeLayer(surfaceLayer);
    surfaceLayer = null;
    var s = D.surfaces[pid];
    if (s) {
      var png = s.png;
      if (!png && s.ref) {  // the picture sits in its own element, read on first show
        var node = document.getElementById(s.ref);
        png = s.png = node ? node.textContent : "";
      }
      surfaceLayer = L.imageOverlay(png, s.bounds, { pane: "gpSurface", opacity: 0.85,
        interactive: false, className: "gp-surface" }).addTo(map);
    }
    document.querySelectorAll("input[name=gp-surface]").forEach(function (r) {
      r.checked = r.value === (s ? pid : "");
    });
  };
  function legend() {
    control("bottomleft", "gp-legend", function (c) {
      var body = collapsible(c, tr("map.legend.title"), true);
      el("div", "gp-lt", body, tr("map.legend.score"));
      var ramp = el("div", "gp-ramp", body);
      ramp.style.background = "linear-gradient(to right," + D.colors.join(",") + ")";
      var ticks = el("div", "gp-ticks", body);
      ["0", "0.5", "1"].forEach(function (x) {
        el("span", "", ticks, x);
      });
      el("div", "gp-lt", body, tr("map.legend.phase"));
      [1, 2, 3].forEach(function (p) {
        var row = el("div", "gp-lrow", body);
        el("span", "gp-badge gp-zone gp-legend-badge", row, p);
        el("span", "", row, " " + phaseText(p));
      });
      var r1 = el("div", "gp-lrow", body);
      el("span", "gp-badge gp-zone gp-legend-badge", r1, "");
      el("span", "", r1, " " + tr("map.legend.zone"));
      var r2 = el("div", "gp-lrow", body);
      el("span", "gp-badge gp-site gp-legend-badge", r2, "");
      el("span", "", r2, " " + tr("map.legend.site"));
      el("div", "gp-lt", body, tr("map.group.infrastructure"));
      Object.keys(INFRA).forEach(function (k) {
        if (!D.infra[k]) return;
        var st = INFRA[k], row = el("div", "gp-lrow", body);
        var sym = el("span", st.r ? "gp-sym-pt" : "gp-sym-line", row);
        if (st.r) {
          sym.style.background = st.fill;
          sym.style.borderColor = st.color;
        } else {
          sym.style.borderTopColor = st.color;
          sym.style.borderTopStyle = st.dash ? "dashed" : "solid";
        }
        el("span", "", row, " " + tr("map.layer." + k));
      });
      el("div", "gp-lt", body, tr("map.group.planning"));
      D.belts.forEach(function (b) {
        if (!BELT[b.id]) return;
        var row = el("div", "gp-lrow", body);
        var sym = el("span", "gp-sym-area", row);
        sym.style.borderColor = BELT[b.id];
        el("span", "", row, " " + b.label);
      });
      var rd = el("div", "gp-lrow", body);
      el("span", "gp-sym-area gp-sym-dmz", rd);
      el("span", "", rd, " " + tr("map.layer.dmz"));
      var rm = el("div", "gp-lrow", body);
      el("span", "gp-sym-line gp-sym-mdl", rm);
      el("span", "", rm, " " + tr("map.layer.mdl"));
    });
  }
  function search() {
    control("topleft", "gp-search", function (c) {
      var input = el("input", "", c);
      input.type = "search";
      input.placeholder = tr("map.search.placeholder");
      input.setAttribute("aria-label", tr("map.search.placeholder"));
      var list = el("ul", "gp-search-results", c);
      function run() {
        list.textContent = "";
        var q = fold(input.value);
        if (!q) return;
        var hits = searchIndex.filter(function (x) {
          /* names are folded on the first search, not while the page opens */
          if (x.key === undefined) x.key = x.words.map(fold).join(" ");
          return x.key.indexOf(q) >= 0;
        }).slice(0, 15);
        hits.forEach(function (h) {
          var li = el("li", "", list);
          li.tabIndex = 0;
          el("span", "gp-hit", li, h.label);
          el("span", "gp-hit-kind", li, " " + h.kind + (h.sub ? " \u00b7 " + h.sub : ""));
          function go() {
            list.textContent = "";
            if (h.row) return focus(h.row);
            collapseAll();
            if (h.site) {
              map.setView([h.site.lat, h.site.lon], Math.max(map.getZoom(), 10),
                { animate: false });
              if (!siteLayer.hasLayer(h.site.marker)) siteLayer.addLayer(h.site.marker);
              return h.site.marker.openPopup();
            }
            map.setView(h.latlng, Math.max(map.getZoom(), 10), { animate: false });
            if (h.layer && map.hasLayer(h.layer)) h.layer.openPopup();
          }
          li.addEventListener("click", go);
          li.addEventListener("keydown", function (e) {
            if (e.key === "Enter") go();
          });
        });
        if (!hits.length) el("li", "gp-none", list, tr("map.search.none"));
      }
      input.addEventListener("input", run);
      G.search = function (q) {
        input.value = q;
        run();
        return Array.prototype.map.call(list.querySelectorAll("li"), function (li) {
          return li.textContent;
        });
      };
    });
  }
  function title() {
    var t = el("div", "gp-title", map.getContainer());
    el("h1", "", t, D.title);
    if (D.description) el("div", "gp-desc", t, D.description);
    stop(t);
  }

  function init() {
    var node = document.getElementById("geoplan-data");
    var tParse = performance.now();
    D = JSON.parse(node.textContent);
    tParse = performance.now() - tParse;
    T = D.t;
    map = window[D.map];
    G.map = map;
    G.data = D;
    document.documentElement.lang = D.lang;
    pane("gpLand", 210);
    pane("gpSurface", 300);
    pane("gpPlanning", 350);
    pane("gpInfraLines", 380);
    pane("gpZones", 450);
    pane("gpInfra", 470);
    pane("gpLabels", 480);
    pane("gpMarkers", 610);
    map.getPane("gpLabels").style.pointerEvents = "none";
    state.profile = D.profiles.length ? D.profiles[0].id : "*";
    overlays.zonesRoot = L.layerGroup().addTo(map);
    overlays.sitesRoot = L.layerGroup().addTo(map);
    G.timing = G.timing || {};
    G.timing.parse = tParse;
    function timed(steps) {
      steps.forEach(function (f) {
        var t0 = performance.now();
        f();
        G.timing[f.name || "step"] = performance.now() - t0;
      });
    }
    /* first what the opening view is read by: land, the profile's zones and sites, the
       ranking; then (after the page's load, one frame later) the context overlays: cities,
       belts, infrastructure, the scenario's layers. Every toggle exists from the start. */
    timed([viewLimits, placeholders, basemap, results, title, search, layerTree, panel, legend,
      refresh]);
    G.timing.first = performance.now();
    function rest() {
      timed([planning, infra, userLayers, cities]);
      G.timing.complete = performance.now();
      G.ready = true;
    }
    if (document.readyState === "complete") setTimeout(rest, 0);
    else {
      window.addEventListener("load", function () {
        requestAnimationFrame(function () {
          setTimeout(rest, 0);
        });
      });
    }
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution(tr("map.attribution"));
    map.on("popupopen", function () {
      map.getContainer().classList.add("gp-popup-open");
    });
    map.on("popupclose", function () {
      map.getContainer().classList.remove("gp-popup-open");
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") map.closePopup();
    });
    /* printing: the map takes the page's size; a national view is fitted again beside the
       legend and below the title (which print over the map), a closer view kept as it is */
    var screenView = null;
    function printView(on) {
      if (on === !!screenView) return;
      if (!on) {
        var v = screenView;
        screenView = null;
        map.invalidateSize({ animate: false });
        map.setView(v[0], v[1], { animate: false });
        return;
      }
      screenView = [map.getCenter(), map.getZoom()];
      var national = D.fit && map.getBounds().pad(0.02).contains(L.latLngBounds(D.fit));
      map.invalidateSize({ animate: false });
      if (!national) return;
      var lg = document.querySelector(".gp-legend"), ti = document.querySelector(".gp-title");
      map.fitBounds(D.fit, { animate: false,
        paddingTopLeft: [lg ? lg.offsetWidth + 16 : 10, ti ? ti.offsetHeight + 16 : 10],
        paddingBottomRight: [10, 30] });
    }
    G.printView = printView;
    window.addEventListener("beforeprint", function () {
      printView(true);
    });
    window.addEventListener("afterprint", function () {
      printView(false);
    });
    if (window.matchMedia) {
      var mq = window.matchMedia("print"), onMq = function (e) {
        printView(e.matches);
      };
      if (mq.addEventListener) mq.addEventListener("change", onMq);
      else if (mq.addListener) mq.addListener(onMq);
    }
  }
  document.addEventListener("DOMContentLoaded", init);
})();
