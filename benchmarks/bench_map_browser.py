"""How the Map responds in a real browser: time to draw, to answer a hover, and to pan or turn, at 500 to 50,000 words.

    python benchmarks/bench_map_browser.py            # a made-up 60,000-word model, Debian's Chromium, headless
    python benchmarks/bench_map_browser.py --sizes 500 5000 50000 --repeat 20

Issue 13's target: a 50,000-word map stays responsive to pan and hover in Chromium. For each map size (2-D, and 3-D
at the largest) the page is opened twice (the first visit computes the projection and clusters on the server; the
second is a cached view), then, in the page:

* hover: the mouse moves onto a point, away, onto the next (``--repeat`` times); latency = from the browser receiving
  the mouse move to Plotly's ``plotly_hover`` event, which fires once the label is drawn;
* pan (2-D) or turn (3-D): a 300-pixel drag in 15 steps; every animation frame is timestamped meanwhile, and the
  figures are the frames drawn per second during the drag and the longest gap between two frames (what a person
  feels as a stutter), and how long the 15 moves took to go through (a busy page delays them).

The browser is Chromium with the test suite's flags (``--disable-gpu``: WebGL runs on the CPU, in SwiftShader), so a
desktop with a GPU does better. Timings are medians unless said otherwise; no pass/fail, just figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import make_model  # noqa: E402
from test_browser import CHROMIUM, CHROMIUM_ARGS, streamlit_app  # noqa: E402
from ui.map_view import MAX_3D  # noqa: E402  (a 3-D map shows at most this many words)

PLOT = '[data-testid="stPlotlyChart"] .js-plotly-plot'
PROBES = """() => {
  const p = document.querySelector('%s');
  window._w2v = {moves: [], hovers: [], frames: []};
  window.addEventListener('mousemove', () => window._w2v.moves.push(performance.now()), true);
  p.on('plotly_hover', () => window._w2v.hovers.push(performance.now()));
  const tick = t => { window._w2v.frames.push(t); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}""" % PLOT


def points_drawn(page) -> int:
    return page.evaluate("() => { const p = document.querySelector('%s'); if (!p || !p._fullData) return 0;"
                         " return p._fullData.filter(t => t.mode === 'markers' && t.meta !== 'highlighted' &&"
                         " t.meta !== 'selected').reduce((s, t) => s + (t._length || 0), 0); }" % PLOT)


def open_map(page, url: str, n: int) -> float:
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_function("n => { const p = document.querySelector('%s'); return p && p._fullData &&"
                           " p._fullData.filter(t => t.mode === 'markers').reduce((s, t) => s + (t._length || 0), 0)"
                           " >= n; }" % PLOT, arg=n, timeout=600_000)
    page.wait_for_timeout(300)
    return time.perf_counter() - t


def plot_area(page, dims: int) -> dict:
    """Where the points are drawn: the 2-D drag layer, or the chart above its legend (the 3-D scene)."""
    if dims == 2:
        return page.locator(f"{PLOT} .nsewdrag").first.bounding_box()
    box = page.locator(PLOT).first.bounding_box()
    return dict(box, height=box["height"] * 0.75)


def hover_latency(page, repeat: int, dims: int) -> tuple[float, int]:
    """Median ms from a mouse move onto a point to plotly_hover, and how many moves found a point."""
    page.evaluate(PROBES)
    box = plot_area(page, dims)
    found = []
    for i in range(repeat):
        x = box["x"] + box["width"] * (0.3 + 0.4 * ((i * 7) % repeat) / repeat)
        y = box["y"] + box["height"] * (0.3 + 0.4 * ((i * 3) % repeat) / repeat)
        page.mouse.move(box["x"] + 2, box["y"] + 2)  # off the points first
        page.wait_for_timeout(120)
        before = page.evaluate("() => [window._w2v.moves.length, window._w2v.hovers.length]")
        page.mouse.move(x, y)
        try:
            page.wait_for_function(f"() => window._w2v.hovers.length > {before[1]}", timeout=3000)
        except Exception:  # noqa: BLE001 - no point under the mouse there
            continue
        moved, hovered = page.evaluate(f"() => [window._w2v.moves[{before[0]}], window._w2v.hovers[{before[1]}]]")
        found.append(hovered - moved)
    return (statistics.median(found) if found else float("nan")), len(found)


def drag(page, dims: int) -> dict[str, float]:
    """A 300-px drag (pan in 2-D, turn in 3-D): frames per second and the worst gap meanwhile, then the redraw."""
    box = plot_area(page, dims)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.wait_for_timeout(200)
    page.evaluate("() => { window._w2v.frames = []; }")
    t0 = page.evaluate("() => performance.now()")
    page.mouse.down()
    for i in range(1, 16):
        page.mouse.move(x + 20 * i, y + 6 * i)
    page.mouse.up()
    t1 = page.evaluate("() => performance.now()")
    page.wait_for_timeout(1500)
    w = page.evaluate("() => window._w2v")
    frames = [f for f in w["frames"] if t0 <= f <= t1]
    gaps = [b - a for a, b in zip(frames, frames[1:])]
    return {"fps": 1000 * (len(frames) - 1) / max(t1 - t0, 1e-9) if len(frames) > 1 else 0.0,
            "worst_gap_ms": max(gaps) if gaps else float("nan"), "drag_ms": t1 - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 5000, 50_000])
    ap.add_argument("--sizes-3d", type=int, nargs="*",
                    help=f"3-D maps (default: the largest 2-D size, at most {MAX_3D:,}: what a 3-D map shows)")
    ap.add_argument("--repeat", type=int, default=15, help="hovers per map")
    ap.add_argument("--query", default="", help="more of the view, e.g. '&colour=none' (one trace, one colour)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        make_model(base / "models", n=max(args.sizes + (args.sizes_3d or [])) + 10_000, k=40, dim=100, name="big")
        with streamlit_app(base) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            cases = [(n, 2) for n in args.sizes] + [(n, 3) for n in args.sizes_3d or [min(max(args.sizes), MAX_3D)]]
            for n, dims in cases:
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                link = f"{url}/map?model=big&n={n}&dims={dims}{args.query}"
                shown = min(n, MAX_3D) if dims == 3 else n
                first = open_map(page, link, shown)
                again = open_map(page, link, shown)
                drawn = points_drawn(page)
                hover, hits = hover_latency(page, args.repeat, dims)
                d = drag(page, dims)
                rows.append((f"{n:,} words, {dims}-D", drawn, first, again, hover, hits, d))
                page.close()
            browser.close()
    print(f"\n{'map':<18} {'points':>7} {'1st view s':>10} {'cached s':>9} {'hover ms':>9} {'hits':>5} "
          f"{'drag fps':>9} {'worst gap ms':>13} {'drag ms':>8}")
    for name, drawn, first, again, hover, hits, d in rows:
        print(f"{name:<18} {drawn:>7,} {first:>10.1f} {again:>9.1f} {hover:>9.0f} {hits:>5} {d['fps']:>9.1f} "
              f"{d['worst_gap_ms']:>13.0f} {d['drag_ms']:>8.0f}")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
