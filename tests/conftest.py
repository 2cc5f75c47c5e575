"""Shared fixtures: every test runs with its own models and cache folders and never touches the network."""

from __future__ import annotations

import itertools
import random
import threading
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """Models, corpus caches and workspaces go to fresh temporary folders; personal mode; the Hugging Face Hub is off."""
    base = tmp_path_factory.mktemp("w2v-env")
    monkeypatch.setenv("W2V_MODELS_DIR", str(base / "models"))
    monkeypatch.setenv("W2V_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("W2V_DATA_DIR", str(base / "data"))  # shared mode's workspaces
    for name in ("W2V_MODE", "W2V_GALLERY_DIR", "W2V_CORPUS_DIR"):  # personal mode unless a test says otherwise
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("W2V_WARM_UMAP", "0")  # no UMAP compiling in the background of every app test
    monkeypatch.setenv("W2V_WARM_CORPUS", "0")  # nor the bundled sample tokenized behind a test's back
    # runs train in the test's own process (a fresh training process imports torch: seconds each, minutes on a busy
    # machine); test_jobs_process.py and test_app_train.py's process test train in a process, as the app does
    monkeypatch.setenv("W2V_TRAIN_PROCESS", "0")
    yield


def returns_within(fn, timeout: float = 20.0):
    """``fn()`` run in a thread; fails (instead of hanging the suite) if it blocks, e.g. on opening a FIFO."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "blocked (was a FIFO or device opened?)"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def make_texts(n_docs: int = 200, seed: int = 0) -> list[str]:
    """A tiny synthetic corpus with real structure: animals do animal things, countries have capitals.

    Words that share contexts should end up close, so tests can check that training learns something.
    """
    rng = random.Random(seed)
    animals = ["cat", "dog", "horse", "cow", "sheep"]
    verbs = ["eats", "runs", "sleeps", "jumps"]
    foods = ["grass", "meat", "fish", "hay"]
    countries = [("france", "paris"), ("germany", "berlin"), ("italy", "rome"), ("spain", "madrid")]
    docs = []
    for _ in range(n_docs):
        sents = []
        for _ in range(rng.randint(3, 6)):
            if rng.random() < 0.5:
                sents.append(f"the {rng.choice(animals)} {rng.choice(verbs)} the {rng.choice(foods)}")
            else:
                c, cap = rng.choice(countries)
                sents.append(f"{cap} is the capital of {c} and {cap} is a city in {c}")
        docs.append(" . ".join(sents))
    return docs


@pytest.fixture
def tiny_texts() -> list[str]:
    return make_texts()


@pytest.fixture
def tiny_corpus(tiny_texts):
    from w2v_core.data.corpus import CorpusConfig, from_texts

    return from_texts(tiny_texts, name="tiny", config=CorpusConfig(source="tiny"))


@pytest.fixture
def tiny_model(tiny_corpus, tmp_path):
    """A small trained skip-gram model saved as a model folder; returns its path."""
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    np.random.seed(0)
    r = Trainer(tiny_corpus, ModelConfig(dim=16, window=3, min_count=1, sample=0),
                TrainConfig(epochs=3, threads=1, seed=1)).train()
    return r.save(tmp_path / "tiny-model", name="tiny-model")


SYLLABLES = ["ka", "lo", "mi", "ra", "ten", "vo", "su", "pel", "dar", "ni", "ber", "tox", "zan", "gro", "fu"]


def make_model(folder, n: int = 400, k: int = 8, dim: int = 24, seed: int = 0, name: str = "map-model"):
    """A model folder of ``n`` made-up words (letters only) in ``k`` clear clusters, with Zipf-like counts, most
    frequent first: a vocabulary big enough for maps, saved in a blink."""
    from w2v_core import store
    from w2v_core.vectors import WordVectors

    rng, r = np.random.default_rng(seed), random.Random(seed)
    pool: dict[str, None] = {}
    for length in range(2, 7):  # 2 to 4 syllables, more only for a vocabulary bigger than that allows
        pool.update(dict.fromkeys("".join(p) for p in itertools.product(SYLLABLES, repeat=length)))
        if length >= 4 and len(pool) >= 2 * n:
            break
    words = r.sample(sorted(pool), n)
    centres = rng.normal(size=(k, dim))
    X = centres[rng.integers(0, k, n)] * 2 + rng.normal(size=(n, dim))
    counts = (10_000 / np.arange(1, n + 1)).astype(np.int64) + 1
    return store.save_model(Path(folder) / name, WordVectors(words, X.astype(np.float32), counts),
                            {"name": name})


APP = str(Path(__file__).resolve().parents[1] / "app.py")  # every AppTest runs the app as served: through app.py


def open_app_page(page: str, model_path, timeout: float = 60):
    """AppTest of app.py with ``model_path`` as the current model, switched to ``page`` (no exception)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    at.session_state["current_model"] = str(model_path)
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    return at
