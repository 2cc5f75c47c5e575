"""A class server in a real browser (Playwright + Debian's Chromium) against `W2V_MODE=shared streamlit run app.py`.

Two visitors, two browser contexts (separate cookies and storage, as two people on two machines): the first imports a
model whose name is markdown that would load an image; the second sees neither it nor its name, only the gallery, on
every page, and a guessed workspace link opens nothing; the first visitor's link brings their model back after a
reload, and the hostile name shows as text (no image is fetched, no link is made). Skips like test_browser.py.
Set ``W2V_SCREENSHOTS=/some/dir`` to keep a screenshot of every step.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from test_browser import TIMEOUT_MS, _nav, _no_exception, _shot, browser, streamlit_app  # noqa: F401 - fixture
from w2v_core import store

HOSTILE = "![x](http://pixel.invalid/p.png) see www.example.com"
SHOWN = re.compile("\u2060?".join(map(re.escape, HOSTILE)))  # as typed (invisible word joiners aside)
PAGES = ["Corpus", "Train", "Map", "Neighbours & analogies", "Evaluate", "Compare", "Learn word2vec", "Home", "Models"]


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    gallery = base / "gallery"
    gallery.mkdir()
    with streamlit_app(base, W2V_MODE="shared", W2V_GALLERY_DIR=str(gallery)) as url:
        yield url, gallery


def _visitor(browser, requests: list[str]):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("request", lambda r: requests.append(r.url))
    return ctx, page


def _ws(page) -> str:
    page.wait_for_function("location.search.includes('ws=')")
    return parse_qs(urlparse(page.url).query)["ws"][0]


def _models_tab(page, label: str):
    page.get_by_role("tab", name=re.compile(label)).click()


def test_two_visitors_cannot_see_or_touch_each_others_models(browser, class_server, tiny_model, tmp_path):
    url, gallery = class_server
    shutil.copytree(tiny_model, gallery / "teacher")
    store.rename_model(gallery / "teacher", "teacher model")
    hostile = tmp_path / "hostile"
    shutil.copytree(tiny_model, hostile)
    store.rename_model(hostile, HOSTILE)
    zip_path = tmp_path / "hostile.zip"
    zip_path.write_bytes(store.zip_model(hostile))
    requests: list[str] = []

    # Alice imports a model with a hostile name into her workspace
    a_ctx, alice = _visitor(browser, requests)
    alice.goto(url)
    alice.get_by_role("heading", name="Word2Vec Explorer").wait_for()
    token_a = _ws(alice)
    _nav(alice, "Models")
    _models_tab(alice, "Import")
    alice.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(zip_path))
    alice.get_by_role("button", name=re.compile("Import model")).click()
    alice.get_by_text("it is now the current model").wait_for()
    _models_tab(alice, "Your models")
    alice.get_by_text(SHOWN).first.wait_for()  # the name shows as typed, as text
    assert alice.locator('img[src*="pixel.invalid"]').count() == 0
    links = alice.locator('a[href*="pixel.invalid"], a[href*="example.com"]')
    assert links.count() == 0, [links.nth(i).evaluate("e => e.parentElement.outerHTML") for i in range(links.count())]
    _no_exception(alice)
    _shot(alice, "shared-1-alice-models")

    # Bob, on another machine: his own empty workspace and the gallery, on every page
    b_ctx, bob = _visitor(browser, requests)
    bob.goto(url)
    bob.get_by_role("heading", name="Word2Vec Explorer").wait_for()
    token_b = _ws(bob)
    assert token_b != token_a
    for title in PAGES:
        if title == "Home":
            bob.locator('[data-testid="stSidebarNav"] a').filter(has=bob.get_by_text("Home", exact=True)).first.click()
            bob.get_by_role("heading", name="Word2Vec Explorer").wait_for()
        else:
            _nav(bob, title)
        bob.wait_for_timeout(1000)  # let the page finish drawing before reading it
        assert "pixel.invalid" not in bob.content() and "www.example.com" not in bob.inner_text("body"), title
        _no_exception(bob)
    _models_tab(bob, "Your models")
    bob.get_by_text("No saved models yet").wait_for()
    _models_tab(bob, "Gallery")
    bob.get_by_text("teacher model").first.wait_for()
    assert bob.get_by_role("button", name=re.compile("Rename|Delete")).count() == 0  # the gallery is read-only
    _shot(bob, "shared-2-bob-models")

    # a guessed workspace link opens a fresh, empty workspace, not Alice's
    guess = token_a[:-2] + ("xy" if not token_a.endswith("xy") else "zz")
    bob.goto(f"{url}/models?{urlencode({'ws': guess})}")
    bob.get_by_role("heading", name=re.compile("Models")).wait_for()
    assert _ws(bob) not in (guess, token_a)
    _models_tab(bob, "Your models")
    bob.get_by_text("No saved models yet").wait_for()
    assert "pixel.invalid" not in bob.content()
    _shot(bob, "shared-3-bob-guess")

    # Alice's own link still brings her model back after a reload (a new session)
    alice.reload()
    alice.get_by_role("heading", name=re.compile("Models")).wait_for()
    assert _ws(alice) == token_a
    _models_tab(alice, "Your models")
    alice.get_by_text(SHOWN).first.wait_for()
    _no_exception(alice)
    assert not any("pixel.invalid" in r or "example.com" in r for r in requests)  # nothing fetched for a name
    a_ctx.close()
    b_ctx.close()
    assert len(list((Path(gallery)).iterdir())) == 1  # nobody wrote into the gallery
