"""AppTest: the Compare page puts two or more saved models (trained or imported) side by side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import APP, make_texts
from streamlit.testing.v1 import AppTest

from w2v_core import store

PAGE = "pages/compare.py"


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    """Skip-gram and CBOW trained on the same tiny corpus, and plain word2vec text vectors imported."""
    from w2v_core.data.corpus import CorpusConfig, from_texts
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    root = tmp_path_factory.mktemp("models")
    corpus = from_texts(make_texts(n_docs=60), name="tiny", config=CorpusConfig(source="tiny"))
    paths = {}
    for arch, window in (("skipgram", 2), ("cbow", 3)):
        r = Trainer(corpus, ModelConfig(arch=arch, dim=12, window=window, min_count=1, sample=0),
                    TrainConfig(epochs=2, threads=1, seed=1)).train()
        paths[arch] = str(r.save(root / arch, name=f"tiny {arch}"))
    # imported text vectors: the skip-gram model rotated, written as a word2vec text file, minus one word
    sg = store.load_model(paths["skipgram"]).vectors
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(sg.dim, sg.dim)))
    txt = root.parent / "rotated.txt"
    keep = [w for w in sg.words if w != "paris"]
    with open(txt, "w", encoding="utf-8") as f:
        f.write(f"{len(keep)} {sg.dim}\n")
        for w in keep:
            f.write(w + " " + " ".join(f"{x:.6f}" for x in sg.get_vector(w) @ q) + "\n")
    paths["imported"] = str(store.import_vectors(txt, root=root, name="rotated text"))
    return root, paths


def _app(root, monkeypatch, current=None):
    monkeypatch.setenv("W2V_MODELS_DIR", str(root))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["current_model"] = current
    at.switch_page(PAGE)  # through app.py: navigation, session defaults and page links as in the app
    return at


def test_fewer_than_two_models(monkeypatch, tmp_path):
    at = _app(tmp_path, monkeypatch).run()
    assert not at.exception
    assert any("at least two saved models" in i.value for i in at.info)


def test_two_models_side_by_side(models_root, monkeypatch):
    root, paths = models_root
    at = _app(root, monkeypatch, paths["skipgram"]).run()
    assert not at.exception, at.exception
    chosen = at.multiselect(key="cmp_models")
    assert chosen.value[0] == paths["skipgram"] and len(chosen.value) == 2
    at = chosen.set_value([paths["skipgram"], paths["cbow"]]).run()
    assert not at.exception, at.exception
    knobs = at.dataframe[0].value
    assert list(knobs.columns) == ["tiny skipgram", "tiny cbow"]
    assert knobs.loc["architecture"].tolist() == ["skipgram", "cbow"]
    # only the differing settings on demand
    at = at.toggle(key="cmp_only_diff").set_value(True).run()
    diff = at.dataframe[0].value
    assert "architecture" in diff.index and "window" in diff.index and "corpus" not in diff.index
    charts = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    loss = next(s for s in charts.values() if s["layout"].get("xaxis", {}).get("title", {}).get("text") == "epochs")
    names = {t["name"] for t in loss["data"]}
    assert {"tiny skipgram (epoch mean)", "tiny cbow (epoch mean)"} <= names  # one curve (or two) per model
    assert all(n.startswith(("tiny skipgram", "tiny cbow")) for n in names)
    legend = [t["name"] for t in loss["data"] if t.get("showlegend", True)]
    assert len(legend) == 2  # one legend entry per model, however many curves it has
    # neighbours of the same word in both models, shared ones starred
    assert at.text_input(key="cmp_word").value
    at = at.text_input(key="cmp_word").set_value("paris").run()
    nb = [df.value for df in at.dataframe if "cosine" in df.value.columns]
    assert len(nb) == 2 and all(len(df) == 10 for df in nb)
    assert any("★" in set(df["shared"]) for df in nb)
    assert not at.exception


def test_unknown_word_is_a_message(models_root, monkeypatch):
    root, paths = models_root
    at = _app(root, monkeypatch, paths["skipgram"]).run()
    at.multiselect(key="cmp_models").set_value([paths["skipgram"], paths["imported"]]).run()
    at.text_input(key="cmp_word").set_value("zzyzx").run()
    assert not at.exception
    assert any("zzyzx" in w.value for w in at.warning)
    # a word only one model knows: that column says so, the other lists neighbours
    at.text_input(key="cmp_word").set_value("paris").run()
    assert not at.exception
    assert any("not in the vocabulary" in w.value for w in at.warning)
    assert len([df for df in at.dataframe if "cosine" in df.value.columns]) == 1


def test_rotated_import_aligns_back_on_the_map(models_root, monkeypatch):
    root, paths = models_root
    at = _app(root, monkeypatch, paths["skipgram"]).run()
    at.multiselect(key="cmp_models").set_value([paths["skipgram"], paths["imported"]]).run()
    assert not at.exception, at.exception
    err = next(c.value for c in at.caption if c.value.startswith("Alignment error"))
    assert "rotated text: 0.000" in err  # a rotated copy aligns back exactly
    moved = next(c.value for c in at.caption if c.value.startswith("Words whose vectors differ most"))
    assert "(0.00)" in moved and "(0.0" in moved.split(":")[-1]  # no word moved after alignment
    chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    a, b = chart["data"][0], chart["data"][1]
    np.testing.assert_allclose(a["x"], b["x"], atol=1e-3)  # the same word sits in the same place
    # t-SNE works too, and a highlighted word gets a marker in each panel
    at.radio(key="cmp_map_method").set_value("tsne")
    at.text_input(key="cmp_map_word").set_value("cat").run()
    assert not at.exception, at.exception
    chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert sum(t.get("text") == ["cat"] for t in chart["data"]) == 2
    at.text_input(key="cmp_map_word").set_value("nosuchword").run()
    assert any("not among" in w.value for w in at.warning)


def test_scores_table_and_compute_missing(models_root, monkeypatch):
    root, paths = models_root
    at = _app(root, monkeypatch, paths["skipgram"]).run()
    at.multiselect(key="cmp_models").set_value([paths["skipgram"], paths["cbow"], paths["imported"]]).run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "WordSim353 ρ" in df.value.columns)
    assert len(table) == 3
    for col in ("WordSim353 ρ", "SimLex-999 ρ", "analogies"):
        assert set(table[col]) == {"not evaluated"}  # words, not None
    at.button(key="cmp_eval").click().run()
    assert not at.exception, at.exception
    assert all((Path(p) / "scores.json").exists() for p in paths.values())
    table = next(df.value for df in at.dataframe if "WordSim353 ρ" in df.value.columns)
    assert "not evaluated" not in set(table["WordSim353 ρ"]) and "None" not in set(table["WordSim353 ρ"])
    assert all("/" in x for x in table["analogy questions"])  # coverage, each in its own short column
    assert not [b for b in at.button if b.key == "cmp_eval"]


def test_default_pair_and_four_models(models_root, monkeypatch, tmp_path):
    root, paths = models_root
    at = _app(root, monkeypatch, paths["cbow"]).run()
    # the current model and the newest other one on the same corpus (not the imported vectors)
    assert at.multiselect(key="cmp_models").value == [paths["cbow"], paths["skipgram"]]
    every = [paths["skipgram"], paths["cbow"], paths["imported"]]
    at.multiselect(key="cmp_models").set_value(every).run()
    assert not at.exception, at.exception
    chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    titles = [a["text"] for a in chart["layout"]["annotations"]]
    assert len(titles) == 3 and "yaxis3" in chart["layout"] and "xaxis3" in chart["layout"]
    # two panels a row: the third sits below the first, so titles do not share one line
    assert chart["layout"]["yaxis3"]["domain"][1] < chart["layout"]["yaxis"]["domain"][0]
