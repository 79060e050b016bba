"""Memory estimates made before any grid is allocated, and the machine's available memory.

A run estimates its peak from the grid's size and the criteria and profile
counts; above ``settings.memory_share`` of the available memory the
in-memory engine refuses with one line that gives the estimate. The
coefficients were measured on the default scenario (see ``bench/README.md``)
and err on the high side.
"""

from __future__ import annotations

import os

__all__ = ["available_bytes", "estimate_bytes", "fmt_bytes"]

#: Bytes the imported libraries take before any data (geopandas, shapely, pyproj, rasterio).
BASELINE = 400 * 2**20


def available_bytes() -> int:
    """Memory available to this process now (``MemAvailable``; cgroup limit if lower)."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
            avail = 8 * 2**30
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(path, encoding="ascii").read().strip()  # noqa: SIM115
        except OSError:
            continue
        if text.isdigit():
            avail = min(avail, int(text))
    return int(avail)


def estimate_bytes(rect_cells: int, candidate_cells: int, n_criteria: int, n_profiles: int) -> int:
    """Peak bytes of an in-memory run.

    Parameters
    ----------
    rect_cells : int
        Cells of the grid's rectangle (width x height).
    candidate_cells : int
        Cells inside the belts (the criteria table's rows).
    n_criteria, n_profiles : int
        Criteria evaluated and profiles scored.

    Examples
    --------
    >>> fmt_bytes(estimate_bytes(1000 * 1000, 500_000, 8, 5))
    '0.5 GB'
    """
    # Calibrated on `geoplan run` of the default scenario (8 criteria, 5 profiles, every output;
    # bench/README.md): measured peak RSS 351, 451, 666, 2033 MB at 1000, 500, 250, 100 m, this
    # estimate 419, 476, 704, 2298 MB (5-19 % above).
    # per rectangle cell: belt masks and union (bool x4), rasterize buffer (uint8), cell index
    # (int32), one float32 surface per profile, zone-growing masks (bool x3)
    per_rect = 4 + 1 + 4 + 4 * n_profiles + 3
    # per candidate: xy (2 float64), raw table (k float64), one profile's transformed and
    # contribution tables (2 k float64), score, k-d tree query buffers
    per_cand = 16 + 8 * n_criteria + 2 * 8 * n_criteria + 8 + 24
    return BASELINE + rect_cells * per_rect + candidate_cells * per_cand


def fmt_bytes(n: float) -> str:
    """``1.2 GB``-style size."""
    return f"{n / 2**30:.1f} GB" if n >= 2**29 else f"{n / 2**20:.0f} MB"
