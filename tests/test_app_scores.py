"""Model cards (AppTest): scores written by the CLI while the app runs show on the next rerun."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from conftest import APP
from w2v_core import store

ROOT = Path(__file__).resolve().parent.parent


def _score_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if "WordSim353" in c.value or "Analogies" in c.value]


def test_scores_written_by_the_cli_show_on_the_next_rerun(tiny_model):
    path = store.models_dir() / "tiny-model"
    shutil.copytree(tiny_model, path)
    (path / store.SCORES).unlink(missing_ok=True)
    at = AppTest.from_file(APP, default_timeout=60).run()  # Home shows the current model's card
    assert not at.exception
    assert at.session_state["current_model"] == str(path)
    assert _score_captions(at) == []  # not evaluated yet

    # another process evaluates the model while the app (and its cached model) stays up
    r = subprocess.run([sys.executable, "-m", "w2v_core", "evaluate", str(path)], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (path / store.SCORES).is_file()
    at.run()
    assert not at.exception
    written = json.loads((path / store.SCORES).read_text())
    assert isinstance(written.get("analogy"), float)  # the tiny vocabulary covers a few analogies
    shown = _score_captions(at)
    assert len(shown) == 1 and f"Analogies {written['analogy']:.1%}" in shown[0], shown

    # written again with other figures: the card follows
    store.save_scores(path, {"wordsim353": 0.123, "simlex999": 0.045, "analogy": 0.5})
    at.run()
    assert _score_captions(at) == [
        ":material/grading: WordSim353 ρ = 0.123 · SimLex-999 ρ = 0.045 · Analogies 50.0%"]

    # and removed: the card no longer claims scores the folder does not have
    (path / store.SCORES).unlink()
    at.run()
    assert _score_captions(at) == []
