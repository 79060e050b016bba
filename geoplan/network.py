"""Routable networks from line layers, and the ``travel_time_to`` criterion.

:func:`build_network` turns any line layers (the default schematic roads and
railways, or imported OSM ones) into an osmnx-compatible graph: line
vertices become nodes, endpoints within ``snap_m`` merge, every edge gets a
length, a speed by class and a travel time. :func:`travel_time_to` answers
"minutes from each candidate to the nearest target" with **one** multi-source
Dijkstra from all targets at once (scipy's compiled Dijkstra from a virtual
source joined to every target node by its off-network access time); a
candidate reaches the network at ``offnet_kph`` over its straight-line gap
to the nearest node.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._errors import LayerError
from geoplan.criteria import register

if TYPE_CHECKING:  # networkx (12 MB) only when a graph is asked for; scipy when routing
    import networkx as nx
    from scipy import sparse
    from scipy.spatial import cKDTree


def _sparse() -> Any:
    """scipy.sparse with csgraph, imported when a network is built (not by every run)."""
    import scipy.sparse.csgraph  # noqa: F401  (makes ``sparse.csgraph`` available)
    from scipy import sparse

    return sparse


__all__ = ["DEFAULT_SPEEDS_KPH", "Network", "build_network", "to_networkx", "travel_time_to"]

#: Speed by layer (and OSM highway class) in km/h; assumptions, see docs/network.md.
DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "roads": 60.0,  # the default motorways, in DPRK condition
    "railways": 40.0,  # freight average
    "motorway": 70.0,
    "trunk": 60.0,
    "primary": 50.0,
    "secondary": 40.0,
    "tertiary": 30.0,
}


@dataclasses.dataclass
class Network:
    """A routable network as arrays (compact, fast) plus its source attributes."""

    node_xy: np.ndarray  # (n, 2) working CRS
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    time_s: np.ndarray
    layer: np.ndarray  # which input layer each edge came from
    confidence: np.ndarray
    crs: str

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_xy)

    def components(self) -> int:
        """Number of connected components (undirected)."""
        n, _ = _sparse().csgraph.connected_components(self.matrix(), directed=False)
        return int(n)

    def matrix(self, extra_nodes: int = 0) -> sparse.csr_matrix:
        """Symmetric sparse matrix of edge travel times (seconds), minimum over parallels."""

        n = self.n_nodes + extra_nodes
        rows = np.concatenate([self.u, self.v])
        cols = np.concatenate([self.v, self.u])
        t = np.concatenate([self.time_s, self.time_s])
        m = _sparse().coo_matrix((t, (rows, cols)), shape=(n, n)).tocsr()
        m.sum_duplicates()  # parallels would add up: keep the fastest instead
        order = np.lexsort((t, cols, rows))
        r, c, tt = rows[order], cols[order], t[order]
        first = np.ones(len(r), dtype=bool)
        first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
        return _sparse().csr_matrix((tt[first], (r[first], c[first])), shape=(n, n))


def build_network(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    speeds_kph: Mapping[str, float] | None = None,
    snap_m: float = 100.0,
    exclude: shapely.Geometry | None = None,
) -> Network:
    """Build a network from line layers.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Line layers in a metric CRS (``{"roads": ..., "railways": ...}``).
        A ``speed_kph`` column, if present, wins; else the OSM ``highway``
        class, else the layer name, picks the speed from ``speeds_kph``.
    speeds_kph : mapping, optional
        Overrides of :data:`DEFAULT_SPEEDS_KPH`.
    snap_m : float
        Vertices closer than this merge into one node (joins schematic lines
        that meet at a town).
    exclude : geometry, optional
        Edges crossing it are dropped (closed border crossings: the MDL).

    Returns
    -------
    Network
    """
    from scipy.spatial import cKDTree

    speeds = {**DEFAULT_SPEEDS_KPH, **dict(speeds_kph or {})}
    seg_a, seg_b, seg_speed, seg_layer, seg_conf = [], [], [], [], []
    crs = None
    for name, gdf in layers.items():
        if gdf.crs is None or gdf.crs.is_geographic:
            raise LayerError(f"layer '{name}': network needs a metric CRS, got {gdf.crs}")
        crs = gdf.crs
        for i, geom in enumerate(gdf.geometry):
            if geom is None or geom.is_empty:
                continue
            if "speed_kph" in gdf.columns and pd.notna(gdf["speed_kph"].iloc[i]):
                sp = float(gdf["speed_kph"].iloc[i])
            elif "highway" in gdf.columns and str(gdf["highway"].iloc[i]) in speeds:
                sp = speeds[str(gdf["highway"].iloc[i])]
            else:
                sp = speeds.get(name, 30.0)
            conf = str(gdf["confidence"].iloc[i]) if "confidence" in gdf.columns else "unknown"
            for part in getattr(geom, "geoms", [geom]):
                c = shapely.get_coordinates(part)
                if len(c) < 2:
                    continue
                seg_a.append(c[:-1])
                seg_b.append(c[1:])
                k = len(c) - 1
                seg_speed.append(np.full(k, sp))
                seg_layer.append(np.full(k, name, dtype=object))
                seg_conf.append(np.full(k, conf, dtype=object))
    if not seg_a:
        raise LayerError("network: no line features in " + ", ".join(layers))
    a, b = np.concatenate(seg_a), np.concatenate(seg_b)
    speed = np.concatenate(seg_speed)
    layer_of = np.concatenate(seg_layer)
    conf = np.concatenate(seg_conf)
    if exclude is not None:
        keep = ~shapely.intersects(shapely.linestrings(np.stack([a, b], axis=1)), exclude)
        a, b, speed, layer_of, conf = a[keep], b[keep], speed[keep], layer_of[keep], conf[keep]
        if len(a) == 0:
            raise LayerError("network: every edge crosses the excluded line (closed crossings)")
    pts = np.concatenate([a, b])
    # snap: union-find over vertex pairs closer than snap_m
    tree = cKDTree(pts)
    pairs = tree.query_pairs(snap_m, output_type="ndarray")
    n = len(pts)
    g = _sparse().coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = _sparse().csgraph.connected_components(g, directed=False)
    node_xy = np.zeros((label.max() + 1, 2))
    np.add.at(node_xy, label, pts)
    node_xy /= np.bincount(label)[:, None]
    u, v = label[: len(a)], label[len(a) :]
    length = np.hypot(*(a - b).T)
    ok = u != v
    return Network(
        node_xy=node_xy,
        u=u[ok],
        v=v[ok],
        length_m=length[ok],
        time_s=length[ok] / (speed[ok] / 3.6),
        layer=layer_of[ok],
        confidence=conf[ok],
        crs=str(crs),
    )


def to_networkx(net: Network) -> nx.MultiDiGraph:
    """The network as an osmnx-compatible MultiDiGraph (via ``osmnx.convert.graph_from_gdfs``)."""
    import osmnx as ox

    nodes = gpd.GeoDataFrame(
        {"x": net.node_xy[:, 0], "y": net.node_xy[:, 1]},
        geometry=shapely.points(net.node_xy),
        crs=net.crs,
    )
    nodes.index.name = "osmid"
    both_u = np.concatenate([net.u, net.v])
    both_v = np.concatenate([net.v, net.u])
    rep = np.concatenate
    edges = gpd.GeoDataFrame(
        {
            "u": both_u,
            "v": both_v,
            "key": 0,
            "length": rep([net.length_m, net.length_m]),
            "travel_time": rep([net.time_s, net.time_s]),
            "source_layer": rep([net.layer, net.layer]),
            "confidence": rep([net.confidence, net.confidence]),
        },
        geometry=shapely.linestrings(np.stack([net.node_xy[both_u], net.node_xy[both_v]], axis=1)),
        crs=net.crs,
    )
    edges = edges.drop_duplicates(["u", "v"]).set_index(["u", "v", "key"])
    return ox.convert.graph_from_gdfs(nodes, edges, graph_attrs={"crs": net.crs})


def _crosses(a: np.ndarray, b: np.ndarray, barrier: shapely.Geometry | None) -> np.ndarray:
    if barrier is None:
        return np.zeros(len(a), dtype=bool)
    return shapely.intersects(shapely.linestrings(np.stack([a, b], axis=1)), barrier)


def _times_from_targets(
    net: Network, targets_xy: np.ndarray, offnet_kph: float, barrier: shapely.Geometry | None
) -> tuple[np.ndarray, cKDTree]:
    """Seconds from every node to the nearest target: one Dijkstra from a virtual source."""
    from scipy.spatial import cKDTree

    n = net.n_nodes
    tree = cKDTree(net.node_xy)
    gap, idx = tree.query(targets_xy, k=1)
    access = gap / (offnet_kph / 3.6)
    ok = ~_crosses(targets_xy, net.node_xy[idx], barrier)
    best: dict[int, float] = {}
    for j, t in zip(idx[ok], access[ok], strict=True):  # targets on one node: keep the best
        best[int(j)] = min(best.get(int(j), np.inf), float(t))
    base = net.matrix(extra_nodes=1).tocoo()
    cols = np.fromiter(best, dtype=np.int64, count=len(best))
    vals = np.maximum(np.fromiter(best.values(), dtype=float, count=len(best)), 1e-9)
    m = _sparse().csr_matrix(
        (
            np.concatenate([base.data, vals]),
            (np.concatenate([base.row, np.full(len(cols), n)]), np.concatenate([base.col, cols])),
        ),
        shape=base.shape,
    )
    dist = _sparse().csgraph.dijkstra(m, directed=True, indices=n)
    return dist[:n], tree


def travel_time_to(
    xy: np.ndarray,
    net: Network,
    targets_xy: np.ndarray,
    *,
    offnet_kph: float = 20.0,
    barrier: shapely.Geometry | None = None,
) -> np.ndarray:
    """Minutes from each candidate to the nearest target over the network.

    The candidate travels off-network at ``offnet_kph`` to its nearest
    network node, then over the network to the target with the smallest
    total time; each target joins the network the same way. An access link
    that would cross ``barrier`` (a closed border) is not allowed: such a
    candidate or target is unreachable (``inf``).
    """
    xy = np.asarray(xy, dtype=float)
    node_t, tree = _times_from_targets(net, np.asarray(targets_xy, float), offnet_kph, barrier)
    gap, idx = tree.query(xy, k=1)
    out = gap / (offnet_kph / 3.6) + node_t[idx]
    out[_crosses(xy, net.node_xy[idx], barrier)] = np.inf
    return out / 60.0


@register("travel_time_to")
def travel_time_criterion(
    xy: np.ndarray,
    layer: gpd.GeoDataFrame,
    *,
    layers: Mapping[str, gpd.GeoDataFrame],
    network: tuple[str, ...] | list[str] = ("roads", "railways"),
    offnet_kph: float = 20.0,
    min_population: float | None = None,
    crossings_open: bool = True,
    snap_m: float = 2000.0,
    speeds_kph: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Scenario criterion: minutes to the nearest feature of ``layer`` over the network.

    ``network`` names the line layers to route on; ``min_population`` keeps
    only targets with at least that ``population``; ``crossings_open: false``
    drops every edge crossing the MDL (inter-Korean links closed).
    """
    for name in network:
        if name not in layers:
            raise LayerError(f"travel_time_to: network layer '{name}' is not loaded")
    targets = layer
    if min_population is not None:
        targets = targets[targets["population"].fillna(0) >= float(min_population)]
    if targets.empty:
        raise LayerError("travel_time_to: no target features left")
    exclude = None
    if not crossings_open and "mdl" in layers:
        exclude = shapely.union_all(layers["mdl"].geometry.to_numpy())
    net = build_network(
        {n: layers[n] for n in network}, speeds_kph=speeds_kph, snap_m=snap_m, exclude=exclude
    )
    pts = targets.geometry.representative_point()
    txy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    return travel_time_to(xy, net, txy, offnet_kph=offnet_kph, barrier=exclude)


travel_time_criterion.needs_layers = True  # type: ignore[attr-defined]
