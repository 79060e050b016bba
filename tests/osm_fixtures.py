"""Build small real-format OSM extracts (XML and PBF) for the tests."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

LON0, LAT0, STEP = 125.40, 38.70, 0.01  # near Nampo, ~0.9 x 1.1 km cells


def elements(n: int = 10):
    """Nodes and ways: an n x n street grid, a railway, a port, power, industry."""
    nodes, ways = [], []
    nid = 1
    grid = {}
    for i in range(n):
        for j in range(n):
            grid[i, j] = nid
            nodes.append((nid, LON0 + j * STEP, LAT0 + i * STEP, {}))
            nid += 1
    wid = 1
    for i in range(n):  # east-west streets: primary on row 0, residential elsewhere
        hw = "primary" if i == 0 else "residential"
        ways.append((wid, [grid[i, j] for j in range(n)], {"highway": hw, "name": f"Row {i}"}))
        wid += 1
    for j in range(n):
        ways.append((wid, [grid[i, j] for i in range(n)], {"highway": "secondary"}))
        wid += 1
    rail = []
    for k in range(n):
        nodes.append((nid, LON0 + k * STEP, LAT0 - 0.02, {}))
        rail.append(nid)
        nid += 1
    ways.append((wid, rail, {"railway": "rail", "name": "Test line"}))
    wid += 1
    nodes.append((nid, LON0 - 0.01, LAT0 - 0.01, {"harbour": "yes", "name": "Test harbour"}))
    nid += 1
    nodes.append((nid, LON0 + 0.05, LAT0 + 0.12, {"power": "plant", "name": "Test plant"}))
    nid += 1
    sq = []
    for dx, dy in ((0, 0), (0.004, 0), (0.004, 0.004), (0, 0.004)):
        nodes.append((nid, LON0 + 0.021 + dx, LAT0 + 0.021 + dy, {}))
        sq.append(nid)
        nid += 1
    ways.append((wid, [*sq, sq[0]], {"landuse": "industrial", "name": "Works <&>"}))
    wid += 1
    pl = []
    for k in range(3):
        nodes.append((nid, LON0 + 0.1 + k * 0.01, LAT0 + 0.15, {}))
        pl.append(nid)
        nid += 1
    ways.append((wid, pl, {"power": "line", "voltage": "220000"}))
    wid += 1
    for k in range(40):  # untagged noise nodes, dropped by the PBF filter
        nodes.append((nid, LON0 + 0.2 + k * 0.001, LAT0 + 0.2, {}))
        nid += 1
    return nodes, ways


def write_xml(path: Path, n: int = 10, *, with_ways: bool = True) -> Path:
    nodes, ways = elements(n)
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        "<osm version='0.6' generator='geoplan-tests'>",
    ]
    for nid, lon, lat, tags in nodes:
        t = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        lines.append(f"<node id='{nid}' version='1' lat='{lat:.7f}' lon='{lon:.7f}'>{t}</node>")
    if with_ways:
        for wid, refs, tags in ways:
            nd = "".join(f"<nd ref='{r}'/>" for r in refs)
            t = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
            lines.append(f"<way id='{wid}' version='1'>{nd}{t}</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_pbf(path: Path, n: int = 10) -> Path:
    import osmium

    nodes, ways = elements(n)
    if path.exists():
        path.unlink()
    with osmium.SimpleWriter(str(path)) as w:
        for nid, lon, lat, tags in nodes:
            w.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), tags=tags, version=1))
        for wid, refs, tags in ways:
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags, version=1))
    return path
