/* geoplan map controls: fullscreen, search, minimap, measure. Written for geoplan;
   no external requests. Expects Leaflet (L) and a map object. */
(function () {
  "use strict";
  var G = (window.geoplan = window.geoplan || { index: [] });

  var ICON_FULL =
    '<svg viewBox="0 0 16 16" fill="none" stroke="#222" stroke-width="2">' +
    '<path d="M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5"/></svg>';
  var ICON_RULER =
    '<svg viewBox="0 0 16 16" fill="none" stroke="#222" stroke-width="1.5">' +
    '<path d="M1 11L11 1l4 4L5 15z M4 8l2 2 M6 6l1 1 M8 4l2 2"/></svg>';

  G.register = function (name, layer) {
    G.index.push({ name: String(name), layer: layer });
  };

  function button(container, text, title, onClick) {
    var a = L.DomUtil.create("a", "geoplan-btn", container);
    a.href = "#";
    a.setAttribute("role", "button");
    a.title = title;
    a.innerHTML = text; /* a constant icon from this file, never data */
    L.DomEvent.on(a, "click", function (e) {
      L.DomEvent.preventDefault(e);
      L.DomEvent.stopPropagation(e);
      onClick(a);
    });
    return a;
  }

  G.Fullscreen = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function (map) {
      var c = L.DomUtil.create("div", "leaflet-bar geoplan-fullscreen");
      button(c, ICON_FULL, "Full screen", function () {
        var el = map.getContainer();
        if (document.fullscreenElement) {
          document.exitFullscreen();
        } else if (el.requestFullscreen) {
          el.requestFullscreen();
        }
      });
      document.addEventListener("fullscreenchange", function () {
        map.invalidateSize();
      });
      return c;
    },
  });

  G.Search = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function (map) {
      var c = L.DomUtil.create("div", "leaflet-bar geoplan-search");
      var input = L.DomUtil.create("input", "", c);
      input.type = "search";
      input.placeholder = "Find a zone or site\u2026";
      input.setAttribute("aria-label", "Find a zone or site by name");
      var list = L.DomUtil.create("ul", "geoplan-search-results", c);
      L.DomEvent.disableClickPropagation(c);
      L.DomEvent.disableScrollPropagation(c);
      function go(entry) {
        var layer = entry.layer;
        if (layer.getBounds) {
          map.fitBounds(layer.getBounds(), { maxZoom: 12, animate: false });
        } else if (layer.getLatLng) {
          map.setView(layer.getLatLng(), Math.max(map.getZoom(), 10), { animate: false });
        }
        var at = layer.getBounds ? layer.getBounds().getCenter() : layer.getLatLng();
        /* open after this click has finished, or Leaflet's map click closes it */
        setTimeout(function () {
          if (layer.getPopup && layer.getPopup()) layer.openPopup(at);
        }, 50);
        list.innerHTML = "";
        input.value = entry.name;
      }
      input.addEventListener("input", function () {
        var q = input.value.trim().toLowerCase();
        list.innerHTML = "";
        if (!q) return;
        G.index
          .filter(function (e) {
            return e.name.toLowerCase().indexOf(q) >= 0;
          })
          .slice(0, 12)
          .forEach(function (e) {
            var li = L.DomUtil.create("li", "", list);
            li.textContent = e.name; /* textContent: names are data, never markup */
            L.DomEvent.on(li, "click", function () {
              go(e);
            });
          });
      });
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && list.firstChild) list.firstChild.click();
      });
      return c;
    },
  });

  G.MiniMap = L.Control.extend({
    options: { position: "bottomright", outline: null },
    onAdd: function (map) {
      var c = L.DomUtil.create("div", "geoplan-minimap");
      var self = this;
      setTimeout(function () {
        var mini = L.map(c, {
          attributionControl: false,
          zoomControl: false,
          dragging: false,
          scrollWheelZoom: false,
          doubleClickZoom: false,
          boxZoom: false,
          keyboard: false,
          touchZoom: false,
        });
        mini.setView(map.getCenter(), Math.max(map.getZoom() - 4, 3));
        if (self.options.outline) {
          L.geoJSON(self.options.outline, {
            style: { color: "#777", weight: 1, fillColor: "#f2efe6", fillOpacity: 1 },
            interactive: false,
          }).addTo(mini);
        }
        var box = L.rectangle(map.getBounds(), { color: "#d33", weight: 1, fillOpacity: 0.1 });
        box.addTo(mini);
        function sync() {
          box.setBounds(map.getBounds());
          mini.setView(map.getCenter(), Math.max(map.getZoom() - 4, 3), { animate: false });
        }
        map.on("moveend zoomend", sync);
        sync();
      }, 0);
      return c;
    },
  });

  G.Measure = L.Control.extend({
    options: { position: "topleft" },
    onAdd: function (map) {
      var c = L.DomUtil.create("div", "leaflet-bar geoplan-measure");
      var out = L.DomUtil.create("div", "geoplan-measure-out", c);
      var active = false,
        pts = [],
        line = null;
      function fmt(m) {
        return m >= 1000 ? (m / 1000).toFixed(2) + " km" : Math.round(m) + " m";
      }
      function onClick(e) {
        pts.push(e.latlng);
        if (line) map.removeLayer(line);
        line = L.polyline(pts, { color: "#000", weight: 2, dashArray: "4 4" }).addTo(map);
        var d = 0;
        for (var i = 1; i < pts.length; i++) d += map.distance(pts[i - 1], pts[i]);
        out.textContent = fmt(d);
      }
      button(c, ICON_RULER, "Measure distance (click points; click again to stop)", function (a) {
        active = !active;
        a.classList.toggle("geoplan-active", active);
        if (active) {
          pts = [];
          out.textContent = "click on the map";
          map.on("click", onClick);
          map.getContainer().style.cursor = "crosshair";
        } else {
          map.off("click", onClick);
          map.getContainer().style.cursor = "";
          if (line) map.removeLayer(line);
          line = null;
          out.textContent = "";
        }
      });
      return c;
    },
  });
})();
