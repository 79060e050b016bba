"""Compare two runs: zones matched by location, rank and score changes, top-k entries and exits.

Zones of the same profile are matched one to one: first by overlap (the
largest shared area wins), then, for zones that overlap nothing, by centroid
distance under ``threshold_km``. Listed sites are matched by profile and
name. Every candidate of either run appears once in the result with a
``status``: ``same``, ``moved`` (rank changed), ``new`` (only in B) or
``dropped`` (only in A); ``top_k`` says whether it ``entered`` or ``left``
its belt's top k. Pure tables; reading run folders is
:func:`geoplan.rundir.read_run`.
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["Diff", "diff"]

_KEEP = ["zone_id", "name", "kind", "belt", "profile", "score", "rank_in_belt", "phase", "priority"]


@dataclasses.dataclass
class Diff:
    """The matched table, and the settings it was made with."""

    table: pd.DataFrame
    top_k: int
    threshold_km: float

    def moved(self) -> pd.DataFrame:
        """Rows whose rank in the belt changed, biggest move first."""
        t = self.table[self.table["status"] == "moved"]
        return t.reindex(t["rank_change"].abs().sort_values(ascending=False).index)

    def summary_lines(self, limit: int = 12) -> list[str]:
        """A readable console summary: per profile and belt, top-k changes and moves."""
        lines = []
        t = self.table
        counts = t["status"].value_counts()
        lines.append(
            "zones and sites: "
            + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("same", "moved", "new", "dropped"))
        )
        for (prof, belt), g in t.groupby(["profile", "belt"], sort=True):
            ent = g[g["top_k"] == "entered"]
            left = g[g["top_k"] == "left"]
            mv = g[g["status"] == "moved"]
            if ent.empty and left.empty and mv.empty:
                continue
            lines.append(f"{prof} / {belt}:")
            for _, r in ent.iterrows():
                lines.append(
                    f"  + enters top {self.top_k}: {r['name_b']} (rank {_i(r['rank_b'])}"
                    f", was {_i(r['rank_a'])})"
                )
            for _, r in left.iterrows():
                lines.append(
                    f"  - leaves top {self.top_k}: {r['name_a']} (rank {_i(r['rank_a'])}"
                    f", now {_i(r['rank_b'])})"
                )
            for _, r in mv.head(limit).iterrows():
                lines.append(
                    f"  {r['name_b']}: rank {_i(r['rank_a'])} -> {_i(r['rank_b'])}, "
                    f"score {r['score_a']:.3f} -> {r['score_b']:.3f}"
                )
        return lines


def _i(v: object) -> str:
    return "-" if v is None or pd.isna(v) else str(int(v))


def _pairs_zones(
    a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, threshold_m: float
) -> list[tuple[int, int, str]]:
    """One-to-one matches (index in a, index in b, how) of one profile's zones."""
    pairs: list[tuple[int, int, str]] = []
    if a.empty or b.empty:
        return pairs
    ga, gb = a.geometry.to_numpy(), b.geometry.to_numpy()
    tree = shapely.STRtree(gb)
    ia, ib = tree.query(ga, predicate="intersects")
    cand = []
    for i, j in zip(ia, ib, strict=True):
        area = shapely.intersection(ga[i], gb[j]).area
        if area > 0:
            cand.append((-area, int(i), int(j)))
    used_a: set[int] = set()
    used_b: set[int] = set()
    for _, i, j in sorted(cand):
        if i not in used_a and j not in used_b:
            pairs.append((i, j, "overlap"))
            used_a.add(i)
            used_b.add(j)
    ca, cb = shapely.centroid(ga), shapely.centroid(gb)
    d = shapely.distance(ca[:, None], cb[None, :])
    order = np.dstack(np.unravel_index(np.argsort(d, axis=None, kind="stable"), d.shape))[0]
    for i, j in order:
        if d[i, j] > threshold_m:
            break
        if i not in used_a and j not in used_b:
            pairs.append((int(i), int(j), "centroid"))
            used_a.add(int(i))
            used_b.add(int(j))
    return pairs


def diff(
    a: gpd.GeoDataFrame,
    b: gpd.GeoDataFrame,
    *,
    top_k: int = 3,
    threshold_km: float = 5.0,
) -> Diff:
    """Match the candidates of two runs and report what moved.

    Parameters
    ----------
    a, b : GeoDataFrame
        Ranked zones and sites of run A and run B (``RunResult.zones`` and
        ``.sites`` concatenated, or read back from a run folder): ``zone_id``,
        ``name``, ``kind``, ``belt``, ``profile``, ``score``, ``rank_in_belt``
        and a geometry in a metric CRS.
    top_k : int
        The belt's top k that entries and exits are reported for.
    threshold_km : float
        Zones that overlap nothing match by centroid within this distance.

    Returns
    -------
    Diff

    Examples
    --------
    >>> import shapely
    >>> g = lambda x: shapely.box(x, 0, x + 1000, 1000)
    >>> A = gpd.GeoDataFrame({"zone_id": ["a1", "a2"], "name": ["n1", "n2"], "kind": "zone",
    ...     "belt": "border", "profile": "p", "score": [0.9, 0.8], "rank_in_belt": [1, 2]},
    ...     geometry=[g(0), g(50_000)], crs=5179)
    >>> B = A.assign(zone_id=["b1", "b2"], score=[0.7, 0.95], rank_in_belt=[2, 1])
    >>> diff(A, B, top_k=1).table[["zone_id_a", "zone_id_b", "status", "top_k"]].values.tolist()
    [['a2', 'b2', 'moved', 'entered'], ['a1', 'b1', 'moved', 'left']]
    """
    threshold_m = threshold_km * 1000.0
    rows = []
    for prof in sorted(set(a["profile"]) | set(b["profile"])):
        pa = a[a["profile"] == prof]
        pb = b[b["profile"] == prof]
        za = pa[pa["kind"] == "zone"].reset_index(drop=True)
        zb = pb[pb["kind"] == "zone"].reset_index(drop=True)
        pairs = _pairs_zones(za, zb, threshold_m)
        matched_a = {i for i, _, _ in pairs}
        matched_b = {j for _, j, _ in pairs}
        for i, j, how in pairs:
            rows.append(_row(za.iloc[i], zb.iloc[j], how, top_k))
        rows += [_row(za.iloc[i], None, "", top_k) for i in range(len(za)) if i not in matched_a]
        rows += [_row(None, zb.iloc[j], "", top_k) for j in range(len(zb)) if j not in matched_b]
        sa = pa[pa["kind"] == "site"].set_index("name", drop=False)
        sb = pb[pb["kind"] == "site"].set_index("name", drop=False)
        for n in sorted(set(sa.index) | set(sb.index)):
            rows.append(
                _row(
                    sa.loc[n] if n in sa.index else None,
                    sb.loc[n] if n in sb.index else None,
                    "name",
                    top_k,
                )
            )
    table = pd.DataFrame(rows)
    if len(table):
        table = table.sort_values(
            ["profile", "belt", "rank_b", "rank_a"], na_position="last", kind="stable"
        ).reset_index(drop=True)
    return Diff(table, top_k, threshold_km)


def _row(ra: pd.Series | None, rb: pd.Series | None, how: str, k: int) -> dict[str, object]:
    ref = rb if rb is not None else ra
    assert ref is not None
    rank_a = _rank(ra)
    rank_b = _rank(rb)
    if ra is None:
        status = "new"
    elif rb is None:
        status = "dropped"
    elif rank_a != rank_b:
        status = "moved"
    else:
        status = "same"
    in_a = rank_a is not None and rank_a <= k
    in_b = rank_b is not None and rank_b <= k
    top = "entered" if in_b and not in_a else "left" if in_a and not in_b else ""
    dist = np.nan
    if ra is not None and rb is not None and ra.get("kind") == "zone":
        dist = float(ra.geometry.centroid.distance(rb.geometry.centroid)) / 1000.0
    return {
        "profile": ref["profile"],
        "belt": ref["belt"],
        "kind": ref["kind"],
        "status": status,
        "top_k": top,
        "zone_id_a": ra["zone_id"] if ra is not None else None,
        "zone_id_b": rb["zone_id"] if rb is not None else None,
        "name_a": ra["name"] if ra is not None else None,
        "name_b": rb["name"] if rb is not None else None,
        "rank_a": rank_a,
        "rank_b": rank_b,
        "rank_change": (rank_a - rank_b) if rank_a is not None and rank_b is not None else None,
        "score_a": float(ra["score"]) if ra is not None else np.nan,
        "score_b": float(rb["score"]) if rb is not None else np.nan,
        "score_change": (float(rb["score"]) - float(ra["score"]))
        if ra is not None and rb is not None
        else np.nan,
        "match": how,
        "centroid_shift_km": round(dist, 3) if np.isfinite(dist) else np.nan,
    }


def _rank(r: pd.Series | None) -> int | None:
    if r is None:
        return None
    v = r.get("rank_in_belt")
    return None if v is None or pd.isna(v) else int(v)
