"""Benchmark: where the offline map's load time goes, from an empty page to the full map.

    .venv/bin/python bench/bench_map_floor.py maps/default.html   # --slowdown 4 --repeat 9

Loads, alternating in the same minutes with the CPU slowed 4x (as ``bench_map.py``), pages
that each add one step on the way to the map geoplan writes:

- ``empty``: a page with only a title (the browser's own cost of a navigation);
- ``leaflet``: Leaflet's CSS and JavaScript inlined, as every offline folium map must;
- ``no drawing``: geoplan's page with its data, but the drawing never started;
- ``basemap``: the page drawing only its basemap, title and legend (no zones, sites, ranking);
- ``+ panel``: that and the ranking panel, filters and search, with no zone or site;
- ``full``: the page as written;
- ``deferred``: the page as written, but zones, sites and the panel drawn only after the first
  frame (what "progressive" loading would do).

For each it prints the median ``loadEventEnd`` and the median time until the page's drawing
is done and painted (a frame after the last drawing step). The variants are made from the
page by replacing its drawing calls; an error says so if ``map.js`` no longer matches.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_map import ARGS

STEPS = (
    "timed([viewLimits, placeholders, basemap, results, title, search, layerTree, panel, legend,\n"
    "      refresh]);"
)
INIT = 'document.addEventListener("DOMContentLoaded", init);'
# after the page's own DOMContentLoaded handler (registered earlier): a frame, then the time
PAINTED = """<script>
window.__mark = function (k) { requestAnimationFrame(function () { var c = new MessageChannel();
  c.port1.onmessage = function () { window[k] = performance.now(); }; c.port2.postMessage(0); }); };
document.addEventListener("DOMContentLoaded", function () {
  if (!window.__later) __mark("__painted"); });
</script>"""


def variants(page: str) -> dict[str, str]:
    from geoplan._offline import asset_text, inline_css, inline_js, leaflet_css

    if STEPS not in page or INIT not in page:
        raise SystemExit("bench_map_floor: the page's map.js no longer has the drawing steps "
                         "this benchmark replaces; update STEPS/INIT")  # fmt: skip
    head = "<!doctype html><html><head><meta charset='utf-8'><title>x</title>"
    leaflet = inline_css(leaflet_css()) + inline_js(asset_text("xstatic.pkg.leaflet", "leaflet.js"))
    body = "</head><body><div style='height:100vh'></div>" + PAINTED + "</body></html>"
    full = page.replace("</body>", PAINTED + "</body>", 1)
    deferred = (
        "window.__later = true; timed([viewLimits, placeholders, basemap, title, legend]);"
        " requestAnimationFrame(function () { setTimeout(function () {"
        " timed([results, search, layerTree, panel, refresh]); __mark('__painted'); }, 0); });"
    )
    only = "timed([{}]); G.ready = true; return;"
    base = "viewLimits, placeholders, basemap, title"
    return {
        "empty": head + body,
        "leaflet": head + leaflet + body,
        "no drawing": full.replace(INIT, ""),
        "basemap": full.replace(STEPS, only.format(base + ", legend")),
        "+ panel": full.replace(STEPS, only.format(base + ", search, layerTree, panel, legend")),
        "full": full,
        "deferred": full.replace(STEPS, deferred),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--slowdown", type=float, default=4.0)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    pages = variants(args.html.read_text(encoding="utf-8"))
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in pages}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        files = {}
        for i, (k, text) in enumerate(pages.items()):
            files[k] = Path(tmp, f"v{i}.html")
            files[k].write_text(text, encoding="utf-8")
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        for _ in range(args.repeat):
            for k, f in files.items():
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
                    ("file:", "data:", "blob:")) else r.abort())  # fmt: skip
                cdp = page.context.new_cdp_session(page)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.slowdown})
                page.goto(f.as_uri())
                page.wait_for_load_state("load")
                page.wait_for_function("window.__painted", timeout=60000)
                load, painted = page.evaluate(
                    "() => [performance.getEntriesByType('navigation')[0].loadEventEnd,"
                    " window.__painted]"
                )
                if errors:
                    raise SystemExit(f"bench_map_floor: {k}: {errors[0]}")
                times[k].append((load, painted))
                page.close()
        browser.close()
    print(f"map: {args.html}; CPU slowed {args.slowdown:g}x; medians of {args.repeat}")
    print(f"{'page':12s} {'load event':>11s} {'drawn+painted':>14s}")
    for k, v in times.items():
        load = statistics.median(x[0] for x in v)
        painted = statistics.median(x[1] for x in v)
        print(f"{k:12s} {load:9.0f} ms {painted:11.0f} ms")


if __name__ == "__main__":
    main()
