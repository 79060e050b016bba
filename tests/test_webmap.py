"""The HTML map: offline, escaped, and really drawn in a browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoplan import regions, webmap
from geoplan._offline import external_urls

from .browser import open_offline
from .conftest import REPO

XSS = "<img src=x onerror=alert(1)>"
ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture(scope="module")
def run_result(fast_run):
    return fast_run


@pytest.fixture(scope="module")
def foundation_map(run_result) -> Path:
    return run_result.outputs["map"]


def test_map_is_self_contained(foundation_map):
    html = foundation_map.read_text(encoding="utf-8")
    assert foundation_map.stat().st_size < 3_000_000  # size budget: opens quickly
    assert external_urls(html) == []
    assert "cdn.jsdelivr.net" not in html and "code.jquery.com" not in html
    assert "L.map(" in html  # Leaflet inlined, the map script present


def test_map_renders_offline_zones_and_popups(run_result, foundation_map, chromium):
    import pyogrio

    n_gpkg = len(pyogrio.read_dataframe(run_result.outputs["geopackage"], layer="zones"))
    with open_offline(foundation_map, chromium) as p:
        assert p.errors == []
        assert p.blocked == []
        n_zones = p.page.evaluate("document.querySelectorAll('path.geoplan-zone').length")
        assert n_zones == n_gpkg == len(run_result.zones)
        ARTIFACTS.mkdir(exist_ok=True)
        p.page.screenshot(path=str(ARTIFACTS / "map.png"))
        # search for the best zone by name, which opens its popup with its score
        best = run_result.zones.sort_values("score", ascending=False).iloc[0]
        p.page.fill(".geoplan-search input", best["name"])
        p.page.click(".geoplan-search-results li >> nth=0")
        p.page.wait_for_timeout(400)
        popup = p.page.inner_text(".leaflet-popup-content")
        assert f"{best['score']:.3f}" in popup
        assert best["name"] in popup
        # now close it and click the zone's own shape on the map
        p.page.evaluate("() => { for (const k in window) { const v = window[k];"
                        " if (v instanceof L.Map) v.closePopup(); } }")  # fmt: skip
        box = p.page.evaluate(
            """(name) => { const e = geoplan.index.find(x => x.name === name);
                 const r = e.layer._path.getBoundingClientRect();
                 const c = e.layer._map.latLngToContainerPoint(e.layer.getBounds().getCenter());
                 const m = e.layer._map.getContainer().getBoundingClientRect();
                 return [m.left + c.x, m.top + c.y, r.width, r.height]; }""",
            best["name"],
        )
        assert box[2] > 5 and box[3] > 5  # drawn with a visible size
        p.page.mouse.click(box[0], box[1])
        p.page.wait_for_timeout(300)
        popup = p.page.inner_text(".leaflet-popup-content")
        assert f"{best['score']:.3f}" in popup
        assert p.errors == []


def test_data_strings_are_escaped_in_the_browser(default_layers, tmp_path, chromium):
    layers = dict(default_layers)
    ports = layers["ports"].copy()
    ports.loc[ports.index[0], "name"] = XSS
    ports.loc[ports.index[1], "notes"] = "</script><script>alert(2)</script>"
    layers["ports"] = ports
    m = webmap.make_map(
        layers,
        belts=regions.belts(layers),
        exclusions=regions.exclusions(layers),
        title=XSS,
        meta={"note": XSS},
    )
    path = webmap.write_map(m, tmp_path / "xss.html")
    html = path.read_text(encoding="utf-8")
    assert XSS not in html  # never as markup
    with open_offline(path, chromium) as p:
        # open every popup and tooltip on the map
        p.page.evaluate(
            """() => { for (const k in window) { const v = window[k];
                 if (v && v instanceof L.Map) { v.eachLayer(l => {
                   if (l.getPopup && l.getPopup()) { l.openPopup(); }
                 }); } } }"""
        )
        p.page.wait_for_timeout(300)
        assert p.dialogs == []
        assert p.errors == []
        title = p.page.inner_text(".geoplan-title")
        assert XSS in title  # shown as text


def test_offline_writer_refuses_cdn_links(default_layers, tmp_path):
    m = webmap.make_map(default_layers, online=True)
    with pytest.raises(Exception, match="would fetch"):
        webmap.write_map(m, tmp_path / "x.html", online=False)
    assert not (tmp_path / "x.html").exists()
    assert list(tmp_path.iterdir()) == []
