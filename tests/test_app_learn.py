"""The Learn page (AppTest): each step renders on a real small model and shows the training code's numbers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from conftest import APP, make_texts
from w2v_core import learn
from w2v_core.data.corpus import CorpusConfig
from w2v_core.data.loader import load_corpus
from w2v_core.models import ModelConfig
from w2v_core.training import TrainConfig, Trainer
from w2v_core.windows import Stream, cbow_examples, draw_radii, skipgram_pairs, subsample

SENTENCE = "madrid is the capital of spain and the dog eats the grass"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A Skip-gram/negative-sampling and a CBOW/softmax model trained on a corpus file the page can re-read."""
    d = tmp_path_factory.mktemp("learn-app")
    f = d / "animals.txt"
    f.write_text("\n".join(make_texts(60, seed=5)), encoding="utf-8")
    corpus = load_corpus(CorpusConfig(source=str(f)))
    out = {}
    for arch, loss in (("skipgram", "negative"), ("cbow", "softmax")):
        r = Trainer(corpus, ModelConfig(arch=arch, loss=loss, dim=10, window=3, min_count=1, sample=1e-2),
                    TrainConfig(epochs=2, threads=1, seed=1)).train()
        out[arch] = str(r.save(d / "models" / arch))
    return out


def _app(path: str | None) -> AppTest:
    """The Learn page, through app.py, with ``path`` as the current model."""
    at = AppTest.from_file(APP, default_timeout=120)
    if path:
        at.session_state["current_model"] = path
    at.run()
    return at.switch_page("pages/learn.py").run()


def _md(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def _df(at, column: str):
    """The first table with this column (the page's tables are told apart by their columns)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _metric(at, label_start: str):
    return [m for m in at.metric if m.label.startswith(label_start)]


def test_every_step_renders(models):
    at = _app(models["skipgram"])
    assert not at.exception and not at.error
    assert [t.label for t in at.tabs] == ["1 · Words → numbers", "2 · Context windows", "3 · Forward pass",
                                          "4 · One gradient step", "5 · Architecture"]
    text = _md(at)
    assert "Skip-gram, negative sampling (k = 5)" in text
    for key in ("learn_passage", "learn_word", "learn_target"):
        assert at.selectbox(key=key) is not None
    assert at.slider(key="learn_window").value == 3 and at.select_slider(key="learn_lr") is not None
    assert _metric(at, "Loss of this example") and _metric(at, "Loss")
    assert len(at.get("image")) == 2  # step 5: both diagrams
    # the passage shown comes from the corpus
    passage = at.selectbox(key="learn_passage")
    assert len(passage.options) > 3


def test_step1_one_hot_product_is_the_row(models):
    at = _app(models["skipgram"])
    at.text_input(key="learn_text").input(SENTENCE).run()
    at.selectbox(key="learn_word").select("spain").run()
    assert not at.exception
    lm = learn.load_training_model(models["skipgram"])
    wid = lm.vocab.index["spain"]
    text = _md(at)
    assert f"**spain** has id **{wid}**" in text
    assert "largest difference: **0.0e+00**" in text
    row = lm.model.w_in[wid].numpy()
    shown = re.search(r"W_in\[\d+\] = `\[([^\]]*)", text).group(1)
    nums = [float(x) for x in shown.replace("…", "").split(",") if x.strip()]
    assert np.allclose(nums, row[: len(nums)], atol=5e-4)
    # the one-hot column has a single 1, in spain's row
    x_df = next(df.value for df in at.dataframe if list(df.value.columns) == ["word", "x"])
    assert x_df["x"].sum() == 1 and x_df.loc[wid, "x"] == 1 and x_df.loc[wid, "word"] == "spain"
    # side panel: the four similarities, one-hot 0 for different words
    sim = next(df.value for df in at.dataframe if "TF-IDF" in df.value.columns)
    assert list(sim.columns) == ["pair", "one-hot", "BoW", "TF-IDF", "embedding"]
    assert (sim["one-hot"] == 0).all() and len(sim) >= 2
    at.text_input(key="learn_pair").input("paris paris").run()
    sim = next(df.value for df in at.dataframe if "TF-IDF" in df.value.columns)
    assert sim.iloc[0]["pair"] == "paris · paris" and sim.iloc[0]["embedding"] == pytest.approx(1.0)


def test_step2_pairs_equal_windows_py(models):
    at = _app(models["skipgram"])
    at.text_input(key="learn_text").input(SENTENCE).run()
    at.slider(key="learn_window").set_value(2).run()
    assert not at.exception
    lm = learn.load_training_model(models["skipgram"])
    # what windows.py gives for this sentence with the page's seed (0) and settings
    ids = torch.tensor([lm.vocab.index[t] for t in SENTENCE.split()])
    g = torch.Generator().manual_seed(0)
    kept, koffs, _ = subsample(ids, torch.tensor([0, len(ids)]), torch.from_numpy(lm.vocab.keep_probs(1e-2)), g)
    s = Stream.from_offsets(kept, koffs)
    radii = draw_radii(len(s), 2, g)
    a, b = skipgram_pairs(s, radii, 2)
    w = lm.words
    want_sg = [(w[x], w[y]) for x, y in zip(a.tolist(), b.tolist())]
    want_cbow = [(" ".join(w[i] for i in ctx), w[c]) for ctx, c in cbow_examples(s, radii, 2)]
    sg = _df(at, "→ context")
    cb = _df(at, "→ centre")
    assert list(zip(sg["centre"], sg["→ context"])) == want_sg
    assert list(zip(cb["context"], cb["→ centre"])) == want_cbow
    # turning subsampling and the dynamic window off gives every neighbour within 2
    at.toggle(key="learn_subsample").set_value(False).run()
    at.toggle(key="learn_dynamic").set_value(False).run()
    toks = SENTENCE.split()
    want = [(toks[i], toks[j]) for i in range(len(toks)) for j in range(i - 2, i + 3)
            if j != i and 0 <= j < len(toks)]
    sg = _df(at, "→ context")
    assert list(zip(sg["centre"], sg["→ context"])) == want
    # the centre's examples are listed for both architectures
    at.select_slider(key="learn_centre").set_value("3: capital").run()
    codes = [c.value for c in at.code]
    assert "[is, the, of, spain] → capital" in codes
    assert "capital → is\ncapital → the\ncapital → of\ncapital → spain" in codes


def test_step2_draw_again_changes_the_draw(models):
    at = _app(models["skipgram"])
    at.text_input(key="learn_text").input(SENTENCE + " " + SENTENCE).run()
    first = _df(at, "→ context")
    changed = False
    for _ in range(4):
        at.button(key="learn_draw").click().run()
        if not _df(at, "→ context").equals(first):
            changed = True
            break
    assert changed and not at.exception


def test_step3_forward_pass_and_step4_lower_loss_skipgram(models):
    at = _app(models["skipgram"])
    at.text_input(key="learn_text").input(SENTENCE).run()
    loss_before = float(_metric(at, "Loss of this example")[0].value)
    step = [m for m in at.metric if m.label == "Loss"][0]
    after = float(step.value)
    assert after < loss_before
    assert float(step.delta) < 0
    ns = next(df.value for df in at.dataframe if "σ(score)" in df.value.columns)
    assert list(ns["role"]) == ["true word"] + ["negative"] * 5
    assert ns["loss term"].sum() == pytest.approx(loss_before, abs=2e-4)
    assert at.get("plotly_chart")  # top-10 bars and the step map


def test_step3_4_cbow_softmax(models):
    at = _app(models["cbow"])
    at.text_input(key="learn_text").input(SENTENCE).run()
    assert not at.exception
    assert "CBOW, full softmax" in _md(at)
    ce = _metric(at, "Loss = −log p(true word)")[0]
    p_true = _metric(at, "p(")[0]
    assert float(ce.value) == pytest.approx(-np.log(float(p_true.value)), abs=5e-3)
    at.select_slider(key="learn_lr").set_value(0.5).run()
    step = [m for m in at.metric if m.label == "Loss"][0]
    assert float(step.delta) < 0


def test_no_model_offers_a_tiny_one(monkeypatch, models):
    calls = []

    def fake_tiny(*a, **k):
        calls.append(1)
        return Path(models["cbow"])

    monkeypatch.setattr(learn, "train_tiny_model", fake_tiny)
    at = _app(None)
    assert not at.exception
    assert any("no current model" in i.value for i in at.info)
    at.button(key="learn_tiny").click().run()
    assert calls and at.session_state["current_model"] == models["cbow"]
    assert not at.exception and len(at.tabs) == 5


def test_model_without_rereadable_corpus_still_works(tiny_model):
    at = _app(str(tiny_model))
    assert not at.exception
    assert any("cannot be re-read" in w.value for w in at.warning)
    at.text_input(key="learn_text").input("the cat eats the grass").run()
    assert not at.exception and _metric(at, "Loss of this example")


def test_imported_vectors_get_a_clear_error(tmp_path):
    from w2v_core import store

    src = tmp_path / "v.txt"
    src.write_text("2 3\ncat 1 0 0\ndog 0 1 0\n", encoding="utf-8")
    p = store.import_vectors(src, root=tmp_path / "m")
    at = _app(str(p))
    assert not at.exception and not at.error  # imported vectors are no error, just nothing Learn can step
    assert any("imported word vectors" in i.value for i in at.info)
    assert at.button(key="learn_tiny").label == "Train a tiny model" and not at.tabs  # a model it can use instead


def test_an_unknown_typed_sentence_gives_one_message_and_the_passage(models):
    at = _app(models["skipgram"])
    at.text_input(key="learn_text").input("qwxz blorf").run()
    assert not at.exception
    assert len(at.warning) == 1 and "None of the words you typed" in at.warning[0].value
    assert not any("Pick a passage" in i.value for i in at.info)  # no second, conflicting message
    assert _metric(at, "Loss of this example")  # the steps go on, with the passage


def test_no_internal_file_names_in_the_text(models):
    at = _app(models["skipgram"])
    shown = [e.value for kind in ("markdown", "caption", "info", "warning") for e in getattr(at, kind)]
    shown += [x.label for x in at.expander]
    assert not [t for t in shown if re.search(r"\b\w+\.py\b", t)]


def test_step4_labels_avoid_their_arrows_and_each_other():
    from ui.learn_draw import label_positions as _label_positions

    start = np.array([[0.0, 0.0], [0.01, 0.0], [5.0, 5.0]])
    tip = np.array([[1.0, 0.0], [1.01, 0.0], [5.0, 6.0]])  # two arrows to the right from one spot, one upwards
    pos = _label_positions(start, tip, ["out: self", "out: neolithic", "h"])
    assert pos[0] == "middle left"  # away from its own arrow
    assert pos[1] != pos[0]  # the neighbour's label goes elsewhere
    assert pos[2] == "bottom center"


def test_step3_probabilities_in_one_unit(models):
    import json

    at = _app(models["skipgram"])
    fig = json.loads(next(c for c in at.get("plotly_chart") if c.key == "learn_top10").proto.spec)
    assert fig["layout"]["xaxis"]["tickformat"].endswith("%") and all(t.endswith("%") for t in fig["data"][0]["text"])


def test_a_hierarchical_softmax_model_shows_its_path_and_one_step(tmp_path):
    f = tmp_path / "animals.txt"
    f.write_text("\n".join(make_texts(60, seed=5)), encoding="utf-8")
    r = Trainer(load_corpus(CorpusConfig(source=str(f))), ModelConfig(loss="hs", dim=10, window=3, min_count=1,
                                                                        sample=1e-2),
                TrainConfig(epochs=2, threads=1, seed=1)).train()
    at = _app(str(r.save(tmp_path / "models" / "hs")))
    assert not at.exception and not at.error
    assert "hierarchical softmax" in _md(at)
    path = _df(at, "inner node")
    assert path["depth"].tolist() == list(range(len(path))) and set(path["code"]) <= {0, 1}
    assert path["inner node"].iloc[0] == len(r.vocab) - 2  # every path starts at the root
    assert _metric(at, "Loss of this example") and _df(at, "P(turn) after") is not None
