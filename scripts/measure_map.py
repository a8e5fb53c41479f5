"""Open map.html files in headless Chromium with the network blocked and time them (not a test; for docs/benchmarks.md).

Usage: python scripts/measure_map.py OUTDIR/map.html [...] [--repeats 3] [--chromium /usr/bin/chromium]

For each page: the file size, the time from navigation until ``window.gridgeo.ready``
resolves (median of the repeats, each in a fresh browser context), ``gridgeo.stats()``,
the time from a mouse move over a grid until its tooltip shows (the browser's
clock, from the event to the change of the tooltip), the time of one whole redraw at the first view and
at zoom 15 and 17 over the grid of the tooltip, and any JavaScript error.  Every request other than ``file://`` is aborted, as when the map is opened
offline (basemap tiles then stay blank).  Needs Debian's ``chromium`` and the
``playwright`` Python package (never ``playwright install``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]

HOVER = """() => {
  // the label point of the grid nearest to the centre of the view (read from the page's data block)
  const D = JSON.parse(document.getElementById('gg-data').textContent), lp = D.layers.grids.lp;
  const map = window.gridgeo.view.map, size = map.getSize();
  let best = null, dist = Infinity;
  for (let i = 0; i < lp.length; i += 2) {
    const ll = [(lp[i + 1] + D.origin[1]) / D.scale, (lp[i] + D.origin[0]) / D.scale], p = map.latLngToContainerPoint(ll);
    const d = Math.hypot(p.x - size.x / 2, p.y - size.y / 2);
    if (d < dist) { dist = d; best = [p.x, p.y]; }
  }
  return best;
}"""


WATCH = """() => {
  // the browser's own clock: from the mouse event to the moment the tooltip is shown
  window.__moveAt = null; window.__tipAt = null;
  const tip = document.querySelector('.gg-tip');
  document.getElementById('map').addEventListener('mousemove', (e) => { if (window.__moveAt === null) window.__moveAt = e.timeStamp; }, {capture: true});
  new MutationObserver(() => {
    if (window.__tipAt === null && tip.style.display === 'block') window.__tipAt = performance.now();
  }).observe(tip, {attributes: true, childList: true});
}"""

REDRAW = """([x, y]) => {
  // one whole redraw (without animation) at the first view, then at zoom 15 and 17 over the grid of the tooltip
  const map = window.gridgeo.view.map, first = map.getZoom(), out = {};
  const at = {[first]: map.getCenter(), 15: map.containerPointToLatLng([x, y]), 17: map.containerPointToLatLng([x, y])};
  for (const z of [first, 15, 17]) {
    map.setView(at[z], z + 0.5, {animate: false});
    const t0 = performance.now();
    map.setView(at[z], z, {animate: false});
    const d = window.gridgeo.drawn();
    out[z] = {ms: Math.round(performance.now() - t0), grids: d.grids, buildings: d.buildings, units: d.units, labels: d.labels};
  }
  return out;
}"""


def _offline(route) -> None:
    """Let file:// through, abort everything else (a closed page may drop the answer)."""
    try:
        route.continue_() if route.request.url.startswith("file://") else route.abort()
    except Exception:  # noqa: BLE001 - the page is gone
        pass


def measure(browser, path: Path) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.route("**/*", _offline)
    page.goto(path.resolve().as_uri(), wait_until="commit", timeout=120_000)
    page.wait_for_function("() => !!(window.gridgeo && window.gridgeo.ready)", timeout=120_000)
    page.evaluate("window.gridgeo.ready")
    ready_ms = page.evaluate("performance.now()")
    stats = page.evaluate("window.gridgeo.stats()")
    drawn = page.evaluate("window.gridgeo.drawn()")
    x, y = page.evaluate(HOVER)
    page.mouse.move(5, y)
    page.wait_for_timeout(100)
    page.evaluate(WATCH)
    page.mouse.move(x, y)
    tooltip_ms = None
    try:
        page.wait_for_function("() => window.__tipAt !== null", timeout=5000)
        tooltip_ms = page.evaluate("window.__tipAt - window.__moveAt")
    except Exception:  # noqa: BLE001 - nothing under the centre: reported as None
        pass
    redraw = page.evaluate(REDRAW, [x, y])
    context.close()
    return {"redraw_ms": redraw, "ready_ms": ready_ms, "stats": stats, "drawn": drawn, "tooltip_ms": tooltip_ms, "errors": errors}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS, headless=True)
        for path in args.pages:
            runs = [measure(browser, path) for _ in range(args.repeats)]
            out = {
                "page": str(path),
                "mb": round(path.stat().st_size / 1e6, 2),
                "ready_s": round(statistics.median(r["ready_ms"] for r in runs) / 1000, 2),
                "ready_s_all": [round(r["ready_ms"] / 1000, 2) for r in runs],
                "tooltip_ms": [None if r["tooltip_ms"] is None else round(r["tooltip_ms"]) for r in runs],
                "redraw_ms_at_zoom": runs[-1]["redraw_ms"],
                "stats": runs[0]["stats"],
                "drawn": runs[0]["drawn"],
                "errors": sorted({e for r in runs for e in r["errors"]}),
            }
            print(json.dumps(out, ensure_ascii=False))
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
