"""The one switch between a personal app and a class server, and the project's Streamlit settings."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from w2v_core.errors import W2VError
from w2v_core.settings import MB, allowed_corpus_path, get_settings, workspace

ROOT = Path(__file__).resolve().parents[1]


def test_personal_is_the_default():
    s = get_settings({})
    assert s.mode == "personal" and not s.shared
    assert s.max_jobs == min(2, os.cpu_count() or 1)
    assert s.quota("models") is None and s.quota("uploads") == 1000 * MB and s.quota("cache") == 4000 * MB
    assert allowed_corpus_path("~/notes.txt", s) == Path("~/notes.txt").expanduser()


def test_shared_mode_and_its_settings(tmp_path):
    env = {"W2V_MODE": " Shared ", "W2V_DATA_DIR": str(tmp_path / "data"), "W2V_GALLERY_DIR": str(tmp_path / "g"),
           "W2V_MAX_JOBS": "3", "W2V_QUOTA_MODELS_MB": "0", "W2V_QUOTA_CACHE_MB": "10"}
    s = get_settings(env)
    assert s.shared and s.max_jobs == 3 and s.gallery_dir == tmp_path / "g"
    assert s.quota("models") is None and s.quota("uploads") == 200 * MB and s.quota("cache") == 10 * MB
    ws = workspace("A" * 22, s)
    assert ws.models == tmp_path / "data" / "workspaces" / ("A" * 22) / "models"
    assert ws.uploads.parent == ws.models.parent
    for bad in ("../../etc", "short", "a/b" * 10, "", None):
        with pytest.raises(ValueError):
            workspace(bad, s)


@pytest.mark.parametrize("env,expected", [
    ({"W2V_MODE": "public"}, "W2V_MODE must be 'personal' or 'shared'"),
    ({"W2V_MAX_JOBS": "two"}, "W2V_MAX_JOBS must be a whole number"),
    ({"W2V_MAX_JOBS": "0"}, "at least 1"),
    ({"W2V_QUOTA_UPLOADS_MB": "-5"}, "cannot be negative"),
])
def test_a_misconfigured_server_says_which_variable(env, expected):
    with pytest.raises(W2VError, match=expected):
        get_settings(env)


def test_shared_mode_reads_no_server_path_outside_the_corpus_folder(tmp_path):
    corpora = tmp_path / "corpora"
    (corpora / "sub").mkdir(parents=True)
    (corpora / "sub" / "book.txt").write_text("words")
    (corpora / "escape.txt").symlink_to("/etc/passwd")
    no_folder = get_settings({"W2V_MODE": "shared"})
    with pytest.raises(W2VError, match="upload a file"):
        allowed_corpus_path("/etc/passwd", no_folder)
    s = get_settings({"W2V_MODE": "shared", "W2V_CORPUS_DIR": str(corpora)})
    assert allowed_corpus_path("sub/book.txt", s) == (corpora / "sub" / "book.txt").resolve()
    assert allowed_corpus_path(corpora / "sub" / "book.txt", s) == (corpora / "sub" / "book.txt").resolve()
    for bad in ("/etc/passwd", "/etc/../etc/passwd", "../../../etc/passwd", "sub/../../x", "escape.txt",
                str(tmp_path)):
        with pytest.raises(W2VError, match="corpus folder"):
            allowed_corpus_path(bad, s)


def test_project_streamlit_settings_show_no_tracebacks_and_send_nothing():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["client"]["showErrorDetails"] == "none"
    assert cfg["client"]["toolbarMode"] == "viewer"  # no Deploy button, no developer menu
    assert cfg["browser"]["gatherUsageStats"] is False
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["server"]["address"] == "localhost"  # personal mode: this machine only


def test_an_idle_tab_does_not_make_streamlit_walk_the_project_folder():
    """With the venv inside the project (as the README says), a file watcher walks it all: most of a core, a log
    full of "Inotify queue overflowed" (issue 24; benchmarks/bench_app.py --part idle measures it)."""
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["fileWatcherType"] == "none"
    assert cfg["server"]["runOnSave"] is False


def test_no_full_garbage_collection_after_every_rerun():
    """The live chart reruns every 0.75 s; a gc.collect(2) each time held the GIL and slowed training (issue 24)."""
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["runner"]["postScriptGC"] is False


def test_streamlit_accepts_these_values():
    from streamlit import config

    config.get_config_options(force_reparse=True)
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    opts = config._config_options
    for section, values in cfg.items():
        for key, value in values.items():
            assert f"{section}.{key}" in opts, f"{section}.{key} is not a Streamlit option"
    assert "none" in {o.value for o in config.ShowErrorDetailsConfigOptions}
