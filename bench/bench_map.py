"""Benchmark: the offline map in Chromium: size, load time (CPU slowed 4x) and a what-if move.

    .venv/bin/python bench/bench_map.py maps/default.html      # --slowdown 4 --repeat 3

Every request that is not file:/data:/blob: is blocked (the map must need none). The load
time is the page's own ``loadEventEnd - startTime`` (navigation timing) and the time until
the map has drawn its zones; the what-if time is what the page reports for re-scoring and
re-ranking every zone and site of a profile after a slider move (``geoplan.whatif.lastMs``).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--slowdown", type=float, default=4.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    size = args.html.stat().st_size
    loads, moves = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        for _ in range(args.repeat):
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            blocked = []
            page.route("**/*", lambda r, b=blocked: r.continue_() if r.request.url.startswith(
                ("file:", "data:", "blob:")) else (b.append(r.request.url), r.abort()))  # fmt: skip
            cdp = page.context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.slowdown})
            page.goto(args.html.resolve().as_uri())
            page.wait_for_load_state("load")
            t = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n.loadEventEnd - n.startTime; }"
            )
            loads.append(t)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
            ms = page.evaluate(
                "() => { const s = document.querySelector('input[type=range]');"
                " if (!s) return null; s.value = String(Number(s.max) * 0.8);"
                " s.dispatchEvent(new Event('input', {bubbles: true}));"
                " return window.geoplan && geoplan.whatif ? geoplan.whatif.lastMs : null; }"
            )
            if ms is not None:
                moves.append(ms)
            assert not blocked, blocked
            page.close()
        browser.close()
    print(f"map: {args.html} ({size / 1e6:.2f} MB)")
    print(f"load event, CPU slowed {args.slowdown:g}x: median {statistics.median(loads):.0f} ms "
          f"of {len(loads)} ({', '.join(f'{x:.0f}' for x in loads)})")  # fmt: skip
    if moves:
        print(f"slider move (re-score and re-rank): median {statistics.median(moves):.1f} ms")


if __name__ == "__main__":
    main()
