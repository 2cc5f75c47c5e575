"""A newcomer's path in a real browser (Playwright + Debian's Chromium) against `streamlit run app.py`.

Open the app, train with the defaults (the bundled corpus), see the loss chart
and the finished run, open the map and see the points, ask for the neighbours of a common word and see scores.
A reload during a run shows the same run still learning (its id is in the URL); another user's tab sees none of it.
A first request straight to a deep link (/train, /learn) on a fresh server still goes through app.py's navigation.

Skips with a printed reason when /usr/bin/chromium (or Playwright) is missing, except when ``CI`` is set: then
it fails, because CI installs Chromium (``W2V_CHROMIUM`` points elsewhere). Set ``W2V_SCREENSHOTS=/some/dir`` to keep a screenshot of every step.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("W2V_CHROMIUM", "/usr/bin/chromium")  # Debian's Chromium
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 180_000  # the machine may be busy: generous, never a timing assertion


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required when CI is set)")
    print(f"SKIP browser test: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def streamlit_app(base: Path, **settings: str):
    """`streamlit run app.py` on a free port, with its own empty models folder (``settings``: more W2V_* variables,
    e.g. ``W2V_MODE="shared"``); yields its URL."""
    env = dict(os.environ, W2V_MODELS_DIR=str(base / "models"), W2V_CACHE_DIR=str(base / "cache"),
               W2V_DATA_DIR=str(base / "data"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", **settings)
    port = _free_port()
    log = open(base / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail("streamlit did not start:\n" + (base / "streamlit.log").read_text()[-3000:])
        time.sleep(0.5)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_app(tmp_path_factory.mktemp("browser")) as url:
        yield url


def _shot(page, name: str) -> None:
    d = os.environ.get("W2V_SCREENSHOTS")
    if d:
        Path(d).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(d) / f"{name}.png"), full_page=True)


def _nav(page, title: str) -> None:
    links = page.locator('[data-testid="stSidebarNav"] a').filter(has=page.get_by_text(title, exact=True))
    links.first.click(timeout=30_000)
    page.get_by_role("heading", name=re.compile(re.escape(title.split(" ")[0]))).first.wait_for(timeout=TIMEOUT_MS)


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


def test_newcomer_trains_maps_and_asks_for_neighbours(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server)
    page.get_by_role("heading", name="Word2Vec Explorer").wait_for()
    page.get_by_text("No model yet").wait_for()
    _no_exception(page)
    _shot(page, "1-home-empty")

    # Train with the defaults (the whole bundled Wikipedia sample)
    _nav(page, "Train")
    page.get_by_text("Nothing has been trained yet").wait_for()
    page.get_by_role("button", name=re.compile("^.*Train$")).click()
    page.get_by_role("heading", name="Finished").wait_for()
    page.get_by_text("is now the current model").wait_for()
    chart = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    chart.wait_for()
    assert chart.locator(".scatterlayer .trace").count() >= 2  # loss per report + smoothed (+ epoch means)
    _no_exception(page)
    _shot(page, "2-train-finished")

    # Map: the most frequent words as points
    _nav(page, "Map")
    plot = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    plot.wait_for()
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .scatterlayer .point').length > 100")
    assert plot.locator(".scatterlayer .point").count() >= 100
    _no_exception(page)
    _shot(page, "3-map")

    # Neighbours of a common word: a dot per neighbour with its cosine score
    _nav(page, "Neighbours & analogies")
    box = page.get_by_label("Word", exact=True)
    box.fill("war")
    box.press("Enter")
    page.get_by_text("Nearest to 'war'").wait_for()
    chart = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    dots = chart.locator(".scatterlayer .point")
    dots.first.wait_for()
    assert dots.count() == 10
    scores = [float(t) for t in chart.locator(".textpoint").all_text_contents() if t and t.strip()]
    assert len(scores) == 10 and all(-1.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores)  # drawn bottom-up: the best neighbour on top
    _no_exception(page)
    _shot(page, "4-neighbours")

    # the finished run's id stays out of the URL, so the back button walks back page by page to Home
    assert "job=" not in page.url
    seen = [page.url]
    for _ in range(8):
        page.go_back()
        page.wait_for_timeout(1500)  # popstate, then the page's run (which must not push the id back)
        assert page.url != seen[-1], seen  # every press goes somewhere
        seen.append(page.url)
        if page.url.rstrip("/") == server.rstrip("/"):
            break
    page.get_by_role("heading", name="Word2Vec Explorer").wait_for()
    page.close()


def _inside(box, viewport) -> bool:
    return (box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= viewport["width"]
            and box["y"] + box["height"] <= viewport["height"])


@pytest.mark.parametrize("viewport", [{"width": 1440, "height": 900}, {"width": 390, "height": 844}])
def test_train_button_and_live_view_come_before_the_settings(browser, server, viewport):
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server + "/train")
    start = page.get_by_role("button", name=re.compile("^.*Train$"))
    start.wait_for()
    page.wait_for_timeout(1000)  # layout settled
    assert _inside(start.bounding_box(), viewport)  # in the first screen, no scrolling
    live = page.locator(".st-key-train_live")
    settings = page.get_by_role("heading", name="Settings")
    lb, sb = live.bounding_box(), settings.bounding_box()
    if viewport["width"] < 640:  # a phone: the columns stack, the live view first
        assert lb["y"] < sb["y"]
    else:  # side by side, the live view on the left
        assert lb["x"] + lb["width"] <= sb["x"] and lb["y"] < viewport["height"]
    _shot(page, f"7-train-{viewport['width']}")
    start.click()
    heading = page.get_by_role("heading", name=re.compile(r"^(Starting|Loading the corpus|Training) \.\.\.$"))
    heading.first.wait_for()
    assert _inside(heading.first.bounding_box(), viewport)  # the run shows in the first screen
    if viewport["width"] < 640:
        assert heading.first.bounding_box()["y"] < settings.bounding_box()["y"]  # not below the settings
    _no_exception(page)
    page.wait_for_function("document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot') !== null")
    _shot(page, f"8-training-{viewport['width']}")
    # one Stop while it trains: Streamlit's own (its toolbar's, which stops a page run, not the training) is hidden
    assert page.locator('[data-testid="stStatusWidget"] button').filter(visible=True).count() == 0
    assert page.get_by_role("button", name=re.compile("Stop")).filter(visible=True).count() == 1
    # scoped to the page body: Streamlit's own header shows a "Stop" button while a rerun is running
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name=re.compile("Stop")).click()
    page.get_by_role("heading", name="Stopped").wait_for()
    page.wait_for_timeout(1000)
    _shot(page, f"9-stopped-{viewport['width']}")
    page.close()


def _chart_points(page) -> int:
    return page.evaluate("() => { const p = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');"
                         " return p && p.data && p.data[0] ? p.data[0].x.length : 0 }")


def test_a_reload_during_training_shows_the_same_run_still_learning(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server + "/train")
    page.get_by_role("button", name=re.compile("^.*Train$")).wait_for()
    page.get_by_role("tab", name="Training").click()  # the settings' third tab
    epochs = page.get_by_role("slider", name="Epochs")
    epochs.focus()
    epochs.press("End")  # 50 epochs: a run long enough to reload during it
    page.get_by_role("button", name=re.compile("^.*Train$")).click()
    page.get_by_role("heading", name="Training ...").wait_for()
    page.wait_for_function("document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot') !== null")
    assert "job=" in page.url  # the run's id rides in the URL
    _shot(page, "5-before-reload")

    page.reload()
    page.get_by_role("heading", name="Training ...").wait_for()  # not the saved models of a session without a run
    page.wait_for_function("document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot') !== null")
    before = _chart_points(page)
    page.wait_for_function(f"(() => {{ const p = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');"
                           f" return p && p.data[0].x.length > {before}; }})()")  # the live chart goes on
    _no_exception(page)
    _shot(page, "6-after-reload")

    stranger = browser.new_page(viewport={"width": 1400, "height": 1000})  # another user: no run to see
    stranger.set_default_timeout(TIMEOUT_MS)
    stranger.goto(server + "/train")
    stranger.get_by_role("heading", name=re.compile("Your current model|Settings")).first.wait_for()
    assert stranger.get_by_role("heading", name="Training ...").count() == 0
    stranger.close()

    # the main area's Stop (Streamlit's header shows a Stop of its own while a script run is under way)
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name=re.compile("Stop")).click()
    page.get_by_role("heading", name="Stopped").wait_for()
    page.get_by_text("is now the current model").wait_for()
    _no_exception(page)
    page.close()


@pytest.mark.parametrize("path, heading", [("train", "Train"), ("learn", "Learn: word2vec, step by step")])
def test_a_deep_link_on_a_fresh_server_goes_through_the_navigation(browser, tmp_path, path, heading):
    """Streamlit runs a pages/ file alone while it still treats pages/ as its legacy folder (a fresh server's first
    request is /train): the page must hand the run to app.py, whose navigation then shows it."""
    with streamlit_app(tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{url}/{path}")
        page.get_by_role("heading", name=heading).first.wait_for()
        nav = page.locator('[data-testid="stSidebarNav"] a')
        nav.filter(has=page.get_by_text("Learn word2vec", exact=True)).first.wait_for()  # app.py's titles
        titles = [t.strip().splitlines()[-1].strip() for t in nav.all_inner_texts()]  # the icon's name comes first
        assert "Neighbours & analogies" in titles and "Models" in titles, titles
        assert not any(t.strip().lower() in ("app", "learn", "neighbours") for t in titles), titles  # no legacy nav
        assert page.url.rstrip("/").endswith(f"/{path}")
        _no_exception(page)
        nav.filter(has=page.get_by_text("Home", exact=True)).first.click()  # and on from there, as from any page
        page.get_by_text("No model yet").wait_for()
        _no_exception(page)
        page.close()


def test_the_app_asks_no_other_host_for_anything(browser, server):
    """Home says everything runs offline: the favicon came from Google's font host (issue 24); nothing may."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:")) else elsewhere.append(r.url))
    page.goto(server)
    page.get_by_role("heading", name=re.compile("Word2Vec")).first.wait_for()
    page.wait_for_timeout(2000)
    icon = page.evaluate("() => [...document.querySelectorAll('link[rel~=icon]')].map(l => l.href)")
    assert icon and all(h.startswith(server) for h in icon), icon
    _nav(page, "Map")
    page.wait_for_timeout(1000)
    assert not elsewhere, elsewhere
    _no_exception(page)
    page.close()


def test_picking_a_file_to_import_stays_on_the_import_tab(browser, server, tmp_path):
    """Models > Import: once a file was picked, the page jumped back to "Your models" and hid the button (issue 24)
    (the message of the import before, shown above the tabs, went away on that rerun)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server)
    _nav(page, "Models")
    import_tab = page.get_by_role("tab", name=re.compile("Import"))
    for k in range(2):
        vectors = tmp_path / f"tiny-glove-{k}.txt"
        vectors.write_text("".join(f"w{i} {' '.join(str((i * j + k) % 7 / 7) for j in range(1, 9))}\n"
                                   for i in range(30)))
        import_tab.click()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(str(vectors))
        page.get_by_text(vectors.name).first.wait_for()
        page.wait_for_timeout(1500)  # the rerun after the upload
        page.wait_for_function("() => document.querySelectorAll('[data-testid=stTab]').length === 2")  # no stale tabs
        assert import_tab.get_attribute("aria-selected") == "true"
        page.get_by_role("button", name=re.compile("Import vectors")).click()
        page.get_by_text(re.compile("it is now the current model")).first.wait_for()
        page.wait_for_timeout(1000)
    _no_exception(page)
    page.close()
