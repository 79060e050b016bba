"""Terrain slope from a DEM: exact against analytic gradients, tiles, VRT and gdaldem.

Every DEM is synthetic (200 x 200 pixels or one small SRTM tile), built in
tmp_path, with a slope known in closed form: Horn's kernel is exact on any
quadratic surface, so planes and paraboloids give the true slope to
rounding at pixel centres.
"""

from __future__ import annotations

import logging
import shutil
import subprocess

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Geod, Transformer

from geoplan import LayerError, terrain
from geoplan.criteria import REGISTRY

from .conftest import require

X0, Y0 = 1_000_000.0, 2_000_000.0  # EPSG:5179, central Korea
N = 200
RES = (30.0, 20.0)  # unequal, so swapped axes show


def write(path, z, transform, crs="EPSG:5179", nodata=None, dtype="float64"):
    profile = {"driver": "GTiff", "height": z.shape[0], "width": z.shape[1], "count": 1,
               "dtype": dtype, "transform": transform, "nodata": nodata}  # fmt: skip
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z.astype(dtype), 1)
    return path


def grid_xy(transform, shape):
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    x, y = transform @ (cols + 0.5, rows + 0.5)
    return x, y


def projected(f, shape=(N, N), res=RES):
    """A DEM z = f(x - X0, y - Y0) on a north-up EPSG:5179 grid with its top-left at X0, Y0."""
    tr = Affine(res[0], 0, X0, 0, -res[1], Y0)
    x, y = grid_xy(tr, shape)
    return f(x - X0, y - Y0), tr


def interior_points(rng, tr, n=400, shape=(N, N), pad=2.0):
    col = rng.uniform(pad, shape[1] - pad, n)
    row = rng.uniform(pad, shape[0] - pad, n)
    x, y = tr @ (col, row)
    return np.column_stack([x, y])


BOWL_C = 2e-4  # z = c r^2: slope atan(2 c r), 0 to about 60 degrees over the DEM
BOWL_CENTRE = (2500.0, -1800.0)


def bowl(dx, dy):
    return BOWL_C * ((dx - BOWL_CENTRE[0]) ** 2 + (dy - BOWL_CENTRE[1]) ** 2)


def bowl_slope(xy):
    r = np.hypot(xy[:, 0] - X0 - BOWL_CENTRE[0], xy[:, 1] - Y0 - BOWL_CENTRE[1])
    return np.degrees(np.arctan(2 * BOWL_C * r))


# ---------------------------------------------------------------- projected CRS


@pytest.mark.parametrize("a, b", [(0.1, 0.0), (0.0, -0.3), (0.4, 0.7), (-1.5, 0.2)])
@pytest.mark.parametrize("resampling", ["bilinear", "nearest"])
def test_plane_in_epsg5179_has_its_analytic_slope(tmp_path, a, b, resampling):
    z, tr = projected(lambda dx, dy: 50.0 + a * dx + b * dy)
    dem = write(tmp_path / "plane.tif", z, tr)
    xy = interior_points(np.random.default_rng(1), tr)
    got = terrain.slope(xy, dem, resampling=resampling)
    expected = np.degrees(np.arctan(np.hypot(a, b)))
    assert np.abs(got - expected).max() < 0.1
    assert np.abs(got - expected).max() < 1e-9  # Horn is exact on a plane


def test_bowl_slope_is_exact_at_pixel_centres_and_close_between(tmp_path):
    z, tr = projected(bowl)
    dem = write(tmp_path / "bowl.tif", z, tr)
    x, y = grid_xy(tr, (N, N))
    centres = np.column_stack([x[1:-1, 1:-1].ravel(), y[1:-1, 1:-1].ravel()])
    got = terrain.slope(centres, dem, resampling="nearest")
    assert np.abs(got - bowl_slope(centres)).max() < 1e-9
    xy = interior_points(np.random.default_rng(2), tr)
    got = terrain.slope(xy, dem)  # bilinear between exact pixel-centre slopes
    assert np.abs(got - bowl_slope(xy)).max() < 0.1


def test_candidates_in_another_crs_are_transformed(tmp_path):
    z, tr = projected(bowl)
    dem = write(tmp_path / "bowl.tif", z, tr)
    xy = interior_points(np.random.default_rng(3), tr, n=50)
    lon, lat = Transformer.from_crs(5179, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
    got = terrain.slope(np.column_stack([lon, lat]), dem, crs="EPSG:4326")
    assert np.abs(got - bowl_slope(xy)).max() < 0.1


def test_feet_dem_with_z_factor(tmp_path):
    z, tr = projected(lambda dx, dy: 0.5 * dx / 0.3048)  # elevations in feet
    dem = write(tmp_path / "feet.tif", z, tr)
    xy = interior_points(np.random.default_rng(4), tr, n=20)
    got = terrain.slope(xy, dem, z_factor=0.3048)
    assert np.abs(got - np.degrees(np.arctan(0.5))).max() < 1e-6


# ---------------------------------------------------------------- geographic CRS

GEOD = Geod(ellps="WGS84")
DEG = 0.05  # coarse pixels over 10 degrees of latitude, so per-row widths matter
LON0, LAT_TOP = 120.0, 45.0
GEO_TR = Affine(DEG, 0, LON0, 0, -DEG, LAT_TOP)


def geo_centres():
    lon, lat = grid_xy(GEO_TR, (N, N))
    return lon, lat


@pytest.mark.parametrize("k", [0.25, 1.0])  # metres of rise per metre of northing
def test_north_south_ramp_in_epsg4326(tmp_path, k):
    lon, lat = geo_centres()
    _, _, arc = GEOD.inv(lon, np.full_like(lat, 40.0), lon, lat)
    z = k * np.sign(lat - 40.0) * arc
    dem = write(tmp_path / "ns.tif", z, GEO_TR, crs="EPSG:4326")
    xy = interior_points(np.random.default_rng(5), GEO_TR)
    got = terrain.slope(xy, dem, crs="EPSG:4326")
    assert np.abs(got - np.degrees(np.arctan(k))).max() < 0.1


def east_west_ramp(k):
    """z = k * geodesic distance along each row from the centre meridian (rising east)."""
    _, lat = geo_centres()
    step = GEOD.inv(np.zeros(N), lat[:, 0], np.full(N, DEG), lat[:, 0])[2]  # per row
    c0 = N // 2
    z = k * step[:, None] * (np.arange(N)[None, :] + 0.5 - c0)
    lam0 = LON0 + c0 * DEG
    return z, lam0


def east_west_truth(k, lon, lat, lam0):
    # east gradient k; north gradient d/dN [k (lon - lam0) N cos(lat)] = -k (lon - lam0) sin(lat)
    gy = k * np.radians(lon - lam0) * np.sin(np.radians(lat))
    return np.degrees(np.arctan(np.hypot(k, gy)))


@pytest.mark.parametrize("k", [0.05, 0.5, 2.0])
def test_east_west_ramp_in_epsg4326_needs_per_row_widths(tmp_path, k):
    z, lam0 = east_west_ramp(k)
    dem = write(tmp_path / "ew.tif", z, GEO_TR, crs="EPSG:4326")
    xy = interior_points(np.random.default_rng(6), GEO_TR)
    got = terrain.slope(xy, dem, crs="EPSG:4326")
    truth = east_west_truth(k, xy[:, 0], xy[:, 1], lam0)
    assert np.abs(got - truth).max() < 0.1

    # the same DEM through one constant scale fails the test: per-row widths matter
    lon, lat = geo_centres()
    truth_px = east_west_truth(k, lon, lat, lam0)[1:-1, 1:-1]
    dx, dy = terrain.pixel_sizes_m(GEO_TR, "EPSG:4326", N)
    ours = terrain.horn_slope(z, dx, dy)[1:-1, 1:-1]
    mid = N // 2
    centre_scale = terrain.horn_slope(z, dx[mid], dy[mid])[1:-1, 1:-1]
    gdaldem_s = terrain.horn_slope(z, 111_120 * DEG, 111_120 * DEG)[1:-1, 1:-1]
    assert np.abs(ours - truth_px).max() < 0.01
    assert np.abs(centre_scale - truth_px).max() > 0.1
    assert np.abs(gdaldem_s - truth_px).max() > 0.5


def test_pixel_sizes_match_geodesic_distances():
    _, lat = geo_centres()
    dx, dy = terrain.pixel_sizes_m(GEO_TR, "EPSG:4326", N)
    phi = lat[:, 0]
    width = GEOD.inv(np.zeros(N), phi, np.full(N, DEG), phi)[2]
    height = GEOD.inv(np.zeros(N), phi - DEG / 2, np.zeros(N), phi + DEG / 2)[2]
    np.testing.assert_allclose(dx, width, rtol=1e-6)
    np.testing.assert_allclose(dy, height, rtol=1e-6)
    pdx, pdy = terrain.pixel_sizes_m(Affine(30, 0, 0, 0, -20, 0), "EPSG:5179", 3)
    assert pdx.tolist() == [30.0] * 3 and pdy.tolist() == [20.0] * 3
    fdx, _ = terrain.pixel_sizes_m(Affine(30, 0, 0, 0, -30, 0), "EPSG:2227", 1)  # US feet
    assert fdx[0] == pytest.approx(30 * 1200 / 3937)


def test_srtm_hgt_tile_with_a_void(tmp_path):
    """A 3-arc-second SRTM tile: big-endian int16, georeferenced by its name, -32768 voids."""
    n = 1201
    rows = np.arange(n)
    z = np.repeat((10 * (n - 1 - rows)).astype(">i2")[:, None], n, axis=1)  # 10 m per row north
    z[600, 600] = -32768  # the pixel centred on 125.5 E, 40.5 N
    (tmp_path / "dem").mkdir()
    z.tofile(tmp_path / "dem" / "N40E125.hgt")
    h = 1 / 1200
    lon = np.array([125.2, 125.5, 125.51, 125.8])
    lat = np.array([40.3, 40.5, 40.5, 40.9])
    got = terrain.slope(np.column_stack([lon, lat]), tmp_path / "dem", crs="EPSG:4326")
    half_span = GEOD.inv(lon, lat - h, lon, lat + h)[2] / 2
    truth = np.degrees(np.arctan(10.0 / half_span))
    assert np.isnan(got[1])
    ok = [0, 2, 3]
    assert np.abs(got[ok] - truth[ok]).max() < 0.1
    xy = np.column_stack([lon, lat])
    mask = terrain.slope_mask(xy, tmp_path / "dem", 6.5, crs="EPSG:4326")
    assert mask.tolist() == [True, False, True, True]
    mask = terrain.slope_mask(xy, tmp_path / "dem", 6.5, crs="EPSG:4326", nan_ok=True)
    assert mask.tolist() == [True, True, True, True]


# ---------------------------------------------------------------- tiles and VRT


def split_into_tiles(z, tr, folder, cut=(N // 2, N // 2 + 7)):
    """Write four tiles (uneven, so the seams are not at the block boundaries)."""
    folder.mkdir()
    r, c = cut
    parts = {"nw": (slice(0, r), slice(0, c)), "ne": (slice(0, r), slice(c, N)),
             "sw": (slice(r, N), slice(0, c)), "se": (slice(r, N), slice(c, N))}  # fmt: skip
    for name, (rs, cs) in parts.items():
        t = tr @ Affine.translation(cs.start, rs.start)
        write(folder / f"{name}.tif", z[rs, cs], t, dtype="float32")
    x_seam, _ = tr @ (c, 0)
    _, y_seam = tr @ (0, r)
    return x_seam, y_seam


def seam_points(rng, tr, x_seam, y_seam, n=200):
    (left, top), (right, bottom) = tr @ (3, 3), tr @ (N - 3, N - 3)
    off = rng.uniform(-2.5, 2.5, n) * RES[0]
    xs = np.column_stack([x_seam + off, rng.uniform(bottom, top, n)])
    off = rng.uniform(-2.5, 2.5, n) * RES[1]
    ys = np.column_stack([rng.uniform(left, right, n), y_seam + off])
    return np.vstack([xs, ys])


@pytest.fixture
def tiled_bowl(tmp_path):
    z, tr = projected(bowl)
    single = write(tmp_path / "single.tif", z, tr, dtype="float32")
    x_seam, y_seam = split_into_tiles(z, tr, tmp_path / "tiles")
    xy = seam_points(np.random.default_rng(7), tr, x_seam, y_seam)
    return single, tmp_path / "tiles", xy


def test_folder_of_tiles_has_no_seam(tiled_bowl):
    single, folder, xy = tiled_bowl
    one = terrain.slope(xy, single)
    tiles = terrain.slope(xy, folder)
    assert np.isfinite(tiles).all()
    np.testing.assert_allclose(tiles, one, rtol=0, atol=1e-9)
    assert np.abs(tiles - bowl_slope(xy)).max() < 0.1


def test_vrt_of_tiles_equals_single_file(tiled_bowl, tmp_path):
    gdalbuildvrt = shutil.which("gdalbuildvrt")
    require(gdalbuildvrt is not None, "gdal-bin (gdalbuildvrt) is not installed")
    single, folder, xy = tiled_bowl
    vrt = tmp_path / "dem.vrt"
    tifs = sorted(str(p) for p in folder.glob("*.tif"))
    subprocess.run([gdalbuildvrt, "-q", str(vrt), *tifs], check=True, capture_output=True)
    got = terrain.slope(xy, vrt)
    np.testing.assert_allclose(got, terrain.slope(xy, single), rtol=0, atol=1e-9)
    assert np.abs(got - bowl_slope(xy)).max() < 0.1


def test_many_candidates_span_several_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(terrain, "BLOCK_PX", 16)  # 200 px -> 13 x 13 blocks
    z, tr = projected(bowl)
    x, y = grid_xy(tr, (N, N))
    centres = np.column_stack([x[1:-1, 1:-1].ravel(), y[1:-1, 1:-1].ravel()])
    single = write(tmp_path / "bowl.tif", z, tr)
    got = terrain.slope(centres, single, resampling="nearest")
    assert np.abs(got - bowl_slope(centres)).max() < 1e-9
    xy = interior_points(np.random.default_rng(13), tr, n=3000)
    got = terrain.slope(xy, single)  # bilinear needs the 2-pixel margin at block edges
    assert np.abs(got - bowl_slope(xy)).max() < 0.1
    split_into_tiles(z, tr, tmp_path / "tiles")
    got = terrain.slope(centres, tmp_path / "tiles", resampling="nearest")
    assert np.abs(got - bowl_slope(centres)).max() < 1e-3  # float32 tiles


# ---------------------------------------------------------------- gdaldem parity


def test_matches_gdaldem_slope(tmp_path):
    gdaldem = shutil.which("gdaldem")
    require(gdaldem is not None, "gdal-bin (gdaldem) is not installed")
    rng = np.random.default_rng(8)

    def hills(dx, dy):
        out = np.zeros_like(dx)
        for _ in range(6):
            kx, ky = rng.uniform(-2 * np.pi / 1500, 2 * np.pi / 1500, 2)
            out += rng.uniform(20, 80) * np.sin(kx * dx + ky * dy + rng.uniform(0, 6))
        return 300.0 + out + rng.normal(0, 1.0, dx.shape)

    z, tr = projected(hills)
    dem = write(tmp_path / "hills.tif", z, tr, dtype="float32")
    out = tmp_path / "slope.tif"
    subprocess.run([gdaldem, "slope", "-q", str(dem), str(out)], check=True, capture_output=True)
    with rasterio.open(out) as src:
        ref = src.read(1, masked=True).astype(float).filled(np.nan)[1:-1, 1:-1]
    x, y = grid_xy(tr, (N, N))
    centres = np.column_stack([x[1:-1, 1:-1].ravel(), y[1:-1, 1:-1].ravel()])
    got = terrain.slope(centres, dem, resampling="nearest").reshape(ref.shape)
    assert np.isfinite(ref).all()
    assert 5 < np.nanmax(ref) < 80  # a real range of slopes
    assert np.abs(got - ref).max() < 1e-3


# ---------------------------------------------------------------- masks, stats, registry


def test_slope_mask_and_zone_stats(tmp_path):
    z, tr = projected(bowl)
    dem = write(tmp_path / "bowl.tif", z, tr)
    xy = interior_points(np.random.default_rng(9), tr, n=600)
    truth = bowl_slope(xy)
    mask = terrain.slope_mask(xy, dem, 30)
    clear = np.abs(truth - 30) > 0.1
    assert (mask[clear] == (truth[clear] <= 30)).all()
    assert 50 < mask.sum() < 550
    values = terrain.slope(xy[:10], dem)
    mean, mx = terrain.zone_slope_stats(np.append(values, np.nan))
    assert mean == pytest.approx(values.mean()) and mx == pytest.approx(values.max())
    assert all(np.isnan(terrain.zone_slope_stats([np.nan])))


def test_slope_is_a_registered_criterion():
    assert REGISTRY["slope"] is terrain.slope


# ---------------------------------------------------------------- reading only what is needed


def test_reads_only_the_window_around_the_candidates(tmp_path):
    z, tr = projected(bowl)
    dem = write(tmp_path / "bowl.tif", z, tr)
    whole = N * N * 8  # 320 kB
    corner = interior_points(np.random.default_rng(10), tr, n=30, shape=(20, 20))
    got = terrain.slope(corner, dem, max_bytes=whole // 50)
    assert np.abs(got - bowl_slope(corner)).max() < 0.1
    spread = interior_points(np.random.default_rng(11), tr, n=30)
    with pytest.raises(
        LayerError,
        match=r"bowl\.tif: .* needs about 3\d\d\.\d kB \(3\d,\d{3} pixels .* above the 6\.4 kB",
    ):
        terrain.slope(spread, dem, max_bytes=whole // 50)


# ---------------------------------------------------------------- one-line errors


def test_errors_name_the_path(tmp_path, caplog):
    z, tr = projected(bowl)
    xy = interior_points(np.random.default_rng(12), tr, n=5)

    def err(path, **kw):
        with pytest.raises(LayerError) as info:
            terrain.slope(xy, path, **kw)
        msg = str(info.value)
        assert "\n" not in msg
        return msg

    assert err(tmp_path / "nope.tif") == f"{tmp_path / 'nope.tif'}: no such DEM file or folder"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("tiles go here")
    assert err(tmp_path / "empty").startswith(f"{tmp_path / 'empty'}: no DEM tiles in this folder")
    nocrs = write(tmp_path / "nocrs.tif", z, tr, crs=None)
    assert err(nocrs).startswith(f"{nocrs}: DEM has no CRS")
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    assert err(bad).startswith(f"{bad}: cannot read DEM")

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write(mixed / "a.tif", z, tr)
    write(mixed / "b.tif", z, tr, crs="EPSG:32652")
    msg = err(mixed)
    assert msg.startswith(f"{mixed / 'b.tif'}: CRS EPSG:32652 differs from EPSG:5179 of a.tif")

    coarse = tmp_path / "coarse"
    coarse.mkdir()
    write(coarse / "a.tif", z, tr)
    write(coarse / "b.tif", z, Affine(90, 0, X0, 0, -90, Y0))
    assert err(coarse).startswith(f"{coarse / 'b.tif'}: pixel size 90 x 90 differs")

    shifted = tmp_path / "shifted"
    shifted.mkdir()
    write(shifted / "a.tif", z, tr)
    write(shifted / "b.tif", z, tr @ Affine.translation(N + 0.5, 0))
    assert err(shifted).startswith(f"{shifted / 'b.tif'}: not on the pixel grid of a.tif")

    dem = write(tmp_path / "dem.tif", z, tr)
    far = xy + 1e6
    with pytest.raises(LayerError, match=r"dem\.tif: none of the 5 candidates lies inside the DEM"):
        terrain.slope(far, dem)
    assert err(dem, resampling="cubic").endswith("expected bilinear or nearest")

    with caplog.at_level(logging.WARNING, logger="geoplan.terrain"):
        got = terrain.slope(np.vstack([xy, far[:2]]), dem)
    assert np.isfinite(got[:5]).all() and np.isnan(got[5:]).all()
    assert "2 of 7 candidates lie outside the DEM" in caplog.text
