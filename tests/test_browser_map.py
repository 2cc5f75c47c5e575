"""The Map in a real browser (Playwright + Debian's Chromium) against `streamlit run app.py`: a click on a point
lists its nearest words with their scores and lights them up, a lasso selection is isolated, a copied link opens
the same view in a new tab, and the replay of a finished run plays.

The server's models folder holds a made-up 400-word model and a tiny model trained by a real job (with its
snapshots). Skips like tests/test_browser.py when Chromium or Playwright is missing (fails when ``CI`` is set).
"""

from __future__ import annotations

import math
import re

import pytest

from conftest import make_model, make_texts
from test_browser import TIMEOUT_MS, _no_exception, _shot, streamlit_app
from test_browser import browser  # noqa: F401 - a fixture, shared

PLOT = '[data-testid="stPlotlyChart"] .js-plotly-plot'


@pytest.fixture(scope="module")
def map_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser-map")
    make_model(base / "models", name="map-model")

    from w2v_core.data.corpus import CorpusConfig, from_texts
    from w2v_core.models import ModelConfig
    from w2v_core.serve.jobs import TrainingJob
    from w2v_core.training import TrainConfig

    corpus = from_texts(make_texts(), name="tiny", config=CorpusConfig(source="tiny"))
    job = TrainingJob(model_config=ModelConfig(dim=16, window=3, min_count=1, sample=0),
                      train_config=TrainConfig(epochs=4, threads=1, seed=1, report_every=0.0), corpus=corpus,
                      name="tiny-run", root=base / "models")
    job.start().join(180)
    assert job.state().status == "done", job.state().error
    with streamlit_app(base) as url:
        yield url


def _open(browser, url: str):  # noqa: F811 - the fixture's value
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.locator(PLOT).first.wait_for()
    page.wait_for_function(f"document.querySelector('{PLOT}')._fullLayout !== undefined")
    return page


def _figure(page, what: str):
    return page.evaluate(f"() => {{ const p = document.querySelector('{PLOT}'); return {what}; }}")


def test_a_click_on_a_point_lists_its_neighbours_with_scores(browser, map_server):  # noqa: F811
    page = _open(browser, map_server + "/map?model=map-model")
    page.get_by_text("Explore", exact=True).wait_for()
    point = page.locator(f"{PLOT} .scatterlayer .trace .point").nth(40)
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hover = page.locator(f"{PLOT} .hoverlayer .hovertext").first
    hover.wait_for()
    word = hover.locator("text.nums").text_content().strip()  # the hover names the word (its title)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    page.get_by_text(re.compile(f"Nearest to {re.escape(word)}")).wait_for()
    rows = page.locator('[data-testid="stDataFrame"] table tr')
    rows.nth(10).wait_for(state="attached")
    table = [[c.text_content() for c in r.locator("td").all()] for r in rows.all()[1:]]
    assert len(table) == 10 and table[0][0] != word
    scores = [float(r[1]) for r in table]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    assert f"focus={word}" in page.url
    page.wait_for_function(f"document.querySelector('{PLOT}').data.some(t => t.meta === 'highlighted')")
    lit = _figure(page, "p.data.find(t => t.meta === 'highlighted').customdata")
    shown = {r[0] for r in table if r[2] == "true"}
    assert lit[0] == word and set(lit[1:]) == shown
    _no_exception(page)
    _shot(page, "map-click")
    page.close()


def test_a_lasso_selection_is_isolated(browser, map_server):  # noqa: F811
    page = _open(browser, map_server + "/map?model=map-model")
    page.locator(PLOT).first.hover()
    page.locator('.modebar-btn[data-title="Lasso Select"]').click()
    area = page.locator(f"{PLOT} .nsewdrag").first.bounding_box()
    cx, cy, r = area["x"] + area["width"] / 2, area["y"] + area["height"] / 2, area["height"] / 4
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for a in range(0, 361, 20):
        page.mouse.move(cx + r * math.cos(math.radians(a)), cy + r * math.sin(math.radians(a)), steps=3)
    page.mouse.up()
    heading = page.get_by_text(re.compile(r"\d+ words selected"))
    heading.wait_for()
    n = int(re.search(r"(\d+) words selected", heading.text_content()).group(1))
    assert n >= 3
    page.get_by_role("button", name="Isolate these words").click()
    page.get_by_role("button", name="Back to the whole map").wait_for()
    page.wait_for_function(f"document.querySelector('{PLOT}').data.filter(t => t.mode === 'markers')"
                           f".reduce((s, t) => s + t.customdata.length, 0) === {n}")
    assert "mode=list" in page.url
    _no_exception(page)
    _shot(page, "map-isolated")
    page.close()


def test_a_copied_link_opens_the_same_view_in_a_new_tab(browser, map_server):  # noqa: F811
    page = _open(browser, map_server + "/map?model=map-model&method=umap&k=5&focus=" +
                 _first_word(browser, map_server))
    page.get_by_text("Nearest to").wait_for()
    link = page.locator('[data-testid="stCode"] code').first.text_content().strip()
    assert "method=umap" in link and "k=5" in link
    names = _figure(page, "p.layout.annotations.map(a => a.text)")

    other = browser.new_context().new_page()  # a new tab of another browser session: nothing but the link
    other.set_default_timeout(TIMEOUT_MS)
    other.goto(link)
    other.locator(PLOT).first.wait_for()
    other.get_by_text("Nearest to").wait_for()
    other.wait_for_function(f"document.querySelector('{PLOT}').layout.annotations.length === {len(names)}")
    assert _figure(other, "p.layout.annotations.map(a => a.text)") == names
    assert _figure(other, "p.layout.xaxis.title.text") == "UMAP 1"
    _no_exception(other)
    _shot(other, "map-link-new-tab")
    other.close()
    page.close()


def _first_word(browser, url: str) -> str:  # noqa: F811
    page = _open(browser, url + "/map?model=map-model")
    word = _figure(page, "p.data[0].customdata[0]")
    page.close()
    return word


def test_the_replay_of_a_finished_run_plays(browser, map_server):  # noqa: F811
    page = _open(browser, map_server + "/map?model=tiny-run&view=learn&follow=cat")
    assert _figure(page, "p._fullLayout.sliders[0].active") == _figure(page, "p._transitionData._frames.length") - 1
    page.locator(".updatemenu-button").filter(has_text="Play").click()
    page.wait_for_function(f"document.querySelector('{PLOT}')._fullLayout.sliders[0].active < 3")  # from the start
    page.wait_for_function(f"document.querySelector('{PLOT}')._fullLayout.sliders[0].active >= 3")  # and on
    note = _figure(page, "p._fullLayout.annotations[0].text")
    assert "cat" in note and "epoch" in note
    _no_exception(page)
    _shot(page, "map-replay")
    page.close()
