"""The ui/ helpers behind the pages, checked directly where AppTest cannot see the result (an image's text, the
markdown a card is made of)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui import cards, learn_steps, widgets
from w2v_core import store
from w2v_core.errors import W2VError
from w2v_core.models import ModelConfig
from w2v_core.vectors import WordVectors

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.mark.parametrize("arch", ["cbow", "skipgram"])
def test_architecture_diagrams_show_the_models_sizes(arch):
    template = (ASSETS / f"{arch}.svg").read_text(encoding="utf-8")
    svg = learn_steps.architecture_svg(template, ModelConfig(arch=arch, dim=32, window=4, negative=4), 900)
    assert "{{" not in svg and svg.lstrip().startswith("<svg")
    assert "900 × 32" in svg and "C = 8" in svg and "k=4" in svg
    soft = learn_steps.architecture_svg(template, ModelConfig(loss="softmax", dim=7), 12345)
    assert "12,345 × 7" in soft and "softmax over all V=12,345" in soft


def test_a_card_describes_a_trained_model(tiny_model):
    d = cards.describe(store.read_record(tiny_model))
    assert d["architecture"] == "Skip-gram · negative sampling"
    assert d["corpus"].startswith("tiny · ") and d["dim"] == "16" and d["loss"] != "-"
    assert d["knobs"].startswith("window 3 · min count 1 · subsample 0 · 5 negatives · 3 epochs · lr 0.025")
    settings = cards.settings(store.read_record(tiny_model))
    assert settings["window"] == "3" and settings["imported from"] == "—" and settings["learning rate"] == "0.025"


def test_a_card_describes_imported_vectors(tmp_path):
    src = tmp_path / "glove.txt"
    src.write_text("the 0.1 0.2 0.3\ncat 0.5 0.1 0.0\n", encoding="utf-8")
    d = cards.describe(store.read_record(store.import_vectors(src, tmp_path / "models")))
    assert d["corpus"] == "imported from glove.txt" and d["architecture"] == "imported vectors"
    assert d["vocab"] == "2" and d["loss"] == "-" and d["time"] == "-" and "knobs" not in d
    assert cards.scores_line(None) is None
    assert cards.scores_line({"wordsim353": 0.5, "analogy": 0.25}) == "WordSim353 ρ = 0.500 · Analogies 25.0%"


def test_user_strings_are_not_markup():
    wj = "\u2060"  # an invisible word joiner that keeps GFM from linking bare URLs
    assert widgets.md_escape("**bold** [link](x) :red[no] `code`") == \
        rf"\*\*bold\*\* \[link\](x) {wj}\:red\[no\] \`code\`"
    assert widgets.md_escape("tiny-model 2") == "tiny-model 2"
    assert widgets.md_escape("![x](http://host/p.png)") == rf"!\[x\](http{wj}\://host/p.png)"  # no image, no link
    assert widgets.md_escape("see www.example.com or me@example.com") == \
        rf"see www{wj}\.example.com or me\@{wj}example.com"
    assert widgets.md_escape("1. first") == r"1\. first" and widgets.md_escape("- item") == r"\- item"
    assert widgets.md_escape("two\n# lines") == r"two \# lines"  # stays on its line, no heading
    assert widgets.md_escape("$x$ <b>") == r"\$x\$ \<b\>"


def test_typed_words():
    assert widgets.parse_words("king, queen;  man\nking") == ["king", "queen", "man"]
    wv = WordVectors(["paris", "france"], [[1.0, 0.0], [0.0, 1.0]])
    assert widgets.resolve_word(wv, " Paris ") == "paris"
    with pytest.raises(W2VError, match="Type a word"):
        widgets.resolve_word(wv, "  ")
    with pytest.raises(W2VError):
        widgets.resolve_word(wv, "berlin")


def test_a_page_run_gives_the_cpu_to_a_training_run_only_while_one_trains(monkeypatch):
    """Issue 24: a page computing a map meanwhile took a core from the training run (Linux: per-thread nice)."""
    import os
    import sys
    import threading

    from ui import shell
    from w2v_core.serve import jobs

    if not sys.platform.startswith("linux"):
        return
    seen = {}

    def page_run(name):
        shell.yield_to_training()
        seen[name] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    base = os.getpriority(os.PRIO_PROCESS, 0)
    for running, name in ((0, "idle"), (1, "training")):
        monkeypatch.setattr(jobs.QUEUE, "running", lambda r=running: r)
        t = threading.Thread(target=page_run, args=(name,))
        t.start()
        t.join()
    assert seen["idle"] == base
    assert seen["training"] == max(base, shell.PAGE_NICE)
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the server's own thread is never lowered
