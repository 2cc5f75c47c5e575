"""Helpers every page shares: the current model, its card, error display, persistent widgets, CSS.

Session conventions other pages rely on:

* ``st.session_state["current_model"]``: str path of the current model folder, or None. On a session's first
  run it is the newest saved model, so a browser refresh or a server restart keeps working.
* ``st.session_state["train_job"]``: this session's :class:`w2v_core.jobs.TrainingJob` (or absent). Its registry
  id is in the URL (``?job=...``), so a browser refresh reattaches to the run (:func:`reattach_job`).
* Widgets whose values should survive a visit to another page use ``persist_state="session"``; their first
  value comes from :func:`default` (so no widget gets both a ``value=`` and a Session State value).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import streamlit as st

from w2v_core import jobs, store
from w2v_core.errors import W2VError

ROOT = Path(__file__).resolve().parent.parent


def _leave_pages_folder_mode() -> None:
    """Make a fresh server honour app.py's st.navigation even when its first request is a deep link (/train).

    Streamlit treats an app with a ``pages/`` folder as an old-style multipage app until the first
    ``st.navigation`` call; a first request for /train would then run pages/train.py alone, with the old
    automatic sidebar. Leaving that mode and rerunning sends the request through app.py instead.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # pragma: no cover - a Streamlit without them has no such mode
        return
    if PagesManager.uses_pages_directory and get_script_run_ctx() is not None:
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_pages_folder_mode()

PAGES = {  # page files by role, so pages can link to each other with st.page_link
    "home": "pages/home.py", "train": "pages/train.py", "map": "pages/map.py",
    "neighbours": "pages/neighbours.py", "models": "pages/models.py", "corpus": "pages/corpus.py",
    "evaluate": "pages/evaluate.py", "compare": "pages/compare.py", "learn": "pages/learn.py",
}


# ---------------------------------------------------------------------------------------------- session


def newest_model_path() -> str | None:
    """The most recently created model folder under models_dir(), or None."""
    try:
        models = store.list_records()
    except OSError:
        return None
    return str(models[0].path) if models else None


def init_session() -> None:
    """Shared session defaults (called by app.py before every page)."""
    ss = st.session_state
    if "current_model" not in ss:
        ss["current_model"] = newest_model_path()
    reattach_job()


JOB_PARAM = "job"  # the URL query parameter that holds this tab's training job id


def remember_job(job: jobs.TrainingJob) -> None:
    """Make ``job`` this session's run and put its registry id into the tab's URL (see :func:`reattach_job`)."""
    job_id = job.job_id or jobs.register(job)
    st.session_state["train_job"] = job
    st.session_state.pop("train_job_handled", None)
    st.query_params[JOB_PARAM] = job_id


def reattach_job() -> None:
    """A refreshed tab (a new session) finds its training run again through the job id in its URL.

    Only the id in this tab's own URL is looked up, and ids are random: nobody else's run can be reached, and
    jobs are never listed. A run that had already ended before the refresh is shown, but does not take the
    current model back (the user may have chosen another since). While the session has a registered job, its
    id is kept in the URL on every page (page switches drop query parameters), so a refresh anywhere works.
    """
    ss = st.session_state
    job = ss.get("train_job")
    wanted = st.query_params.get(JOB_PARAM)
    if job is None:
        if not wanted:
            return
        job = jobs.find_job(wanted)
        if job is None:  # dropped from the registry meanwhile (or a mistyped link): a clean URL
            del st.query_params[JOB_PARAM]
            return
        ss["train_job"] = job
        ss["train_job_reattached"] = True  # the Train page shows the run's own settings (train.restore_knobs)
        if not job.snapshot().active:
            ss["train_job_handled"] = id(job)
    elif job.job_id and wanted != job.job_id:
        st.query_params[JOB_PARAM] = job.job_id


def finish_job_if_done() -> bool:
    """Once this session's training job has ended: make its model current (once). True when that just happened.

    Called from every page (through the sidebar status), so a run that ends while the user is on another page
    still becomes the current model.
    """
    job = st.session_state.get("train_job")
    if job is None or st.session_state.get("train_job_handled") == id(job):
        return False
    s = job.snapshot()
    if s.active:
        return False
    st.session_state["train_job_handled"] = id(job)
    if s.path:
        set_current_model(s.path)
    return True


def training_status(show: bool = True) -> None:
    """A small live status of this session's training run in the sidebar, on every page (polled while it runs)."""
    finish_job_if_done()  # ended since the last run: the page about to run already shows the new model
    job = st.session_state.get("train_job")
    if not show or job is None or not job.snapshot().active:
        return

    def poll() -> None:
        s = job.snapshot()
        if finish_job_if_done():
            st.rerun()  # the whole page: it now shows the new model
        if s.active:
            st.caption(":material/model_training: Training in the background")
            st.progress(min(max(s.fraction, 0.0), 1.0),
                        text=f"{s.fraction:.0%} · epoch {max(s.epoch, 1)}/{s.epochs}" if s.epoch else s.message)

    with st.sidebar:
        st.fragment(poll, run_every=1.0)()


def default(key: str, value: Any) -> None:
    """Give a widget key its first value (use with ``key=`` and no ``value=``, so no double-default warning)."""
    if key not in st.session_state:
        st.session_state[key] = value


def clamp(key: str, lo: int | float, hi: int | float) -> None:
    """Keep a remembered slider value inside this model's range (a smaller model has fewer words)."""
    if key in st.session_state:
        st.session_state[key] = min(max(st.session_state[key], lo), hi)


def set_current_model(path: str | os.PathLike | None) -> None:
    st.session_state["current_model"] = str(path) if path is not None else None


def stamp(path: str) -> int:
    """Changes whenever the folder is rewritten (new weights or a rename), so the cache reloads."""
    p = Path(path)
    try:
        return max(os.stat(p / store.WEIGHTS).st_mtime_ns, os.stat(p / store.CONFIG).st_mtime_ns)
    except OSError:
        return 0


@st.cache_resource(max_entries=6, show_spinner="Loading the model ...")
def _load_model(path: str, stamp: int) -> store.Model:
    """Loaded models are read-only and shared by reruns and sessions; ``stamp`` invalidates a rewritten folder."""
    return store.load_model(path)


def scores_stamp(path: str) -> int:
    """scores.json's mtime (0 while there is none): the CLI or another session may write it at any time."""
    try:
        return os.stat(Path(path) / store.SCORES).st_mtime_ns
    except OSError:
        return 0


def _read_scores(path: str) -> dict[str, Any] | None:
    try:
        obj = json.loads((Path(path) / store.SCORES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def load_model(path: str | os.PathLike) -> store.Model:
    """A model folder, loaded once per version (W2VError for a damaged or missing folder).

    The weights are cached by :func:`stamp`; scores.json is checked on every call, so scores written meanwhile
    (``python -m w2v_core evaluate DIR`` while the app runs) show on the next rerun without reloading the vectors
    (nor recomputing the map/zip caches keyed by :func:`stamp`).
    """
    path = str(path)
    s = scores_stamp(path)  # before loading: scores written during the load are read again next time
    model = _load_model(path, stamp(path))
    if getattr(model, "_scores_stamp", None) != s:
        if getattr(model, "_scores_stamp", None) is not None:  # the first check keeps what load_model read
            model.scores = _read_scores(path) if s else None
        model._scores_stamp = s
    return model


def current_model() -> store.Model | None:
    """The current model, loaded; None when there is none. A model deleted meanwhile falls back to the newest."""
    if "current_model" not in st.session_state:  # a page run without app.py (first request on a deep link)
        init_session()
    path = st.session_state.get("current_model")
    if path and not (Path(path) / store.CONFIG).is_file():
        path = newest_model_path()
        set_current_model(path)
    if not path:
        return None
    try:
        return load_model(path)
    except W2VError as e:
        st.error(f"The current model could not be opened: {e}")
        return None


def require_model() -> store.Model:
    """The current model, or a friendly pointer to Train/Models and the page stops here."""
    m = current_model()
    if m is None:
        st.info("There is no model yet. Train one (it takes a few seconds with the defaults) or import vectors "
                "on the Models page.", icon=":material/info:")
        c1, c2 = st.columns(2)
        link("train", "Train a model", ":material/model_training:", c1)
        link("models", "Import or choose a model", ":material/inventory_2:", c2)
        st.stop()
    return m


def link(page: str, label: str, icon: str | None = None, container=None) -> None:
    """st.page_link to a page by role (``PAGES``), left out while that page's file does not exist yet."""
    path = PAGES.get(page, page)
    if (ROOT / path).is_file():
        (container or st).page_link(path, label=label, icon=icon)


def show_error(e: BaseException | str) -> None:
    """A user-fixable problem as a red box (the message already says what to do)."""
    st.error(str(e), icon=":material/error:")


# ---------------------------------------------------------------------------------------------- model card


def _fmt_int(x: Any) -> str:
    try:
        return f"{int(x):,}"
    except (TypeError, ValueError):
        return "-"


def _fmt_secs(s: Any) -> str:
    try:
        s = float(s)
    except (TypeError, ValueError):
        return "-"
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def describe(config: dict[str, Any]) -> dict[str, str]:
    """The facts a model card shows, as strings (imported vectors have fewer)."""
    summ = config.get("summary") or {}
    corpus = config.get("corpus") or {}
    mc = config.get("model") or {}
    tc = config.get("train") or {}
    arch = {"skipgram": "Skip-gram", "cbow": "CBOW"}.get(mc.get("arch"), mc.get("arch") or "-")
    loss = {"negative": "negative sampling", "softmax": "full softmax"}.get(mc.get("loss"), mc.get("loss") or "-")
    out = {
        "corpus": (f"imported from {config.get('source_file', 'a vectors file')}" if config.get("imported")
                   else f"{corpus.get('name', '-')} · {_fmt_int(corpus.get('tokens'))} tokens"),
        "architecture": "imported vectors" if config.get("imported") else f"{arch} · {loss}",
        "vocab": _fmt_int(config.get("vocab_size") or summ.get("vocab_size")),
        "dim": _fmt_int(config.get("dim") or mc.get("dim")),
        "loss": f"{summ['final_loss']:.4f}" if isinstance(summ.get("final_loss"), (int, float)) else "-",
        "time": _fmt_secs(summ.get("seconds")),
        "created": str(config.get("created", "-")),
    }
    if mc:
        knobs = [f"window {mc.get('window')}", f"min count {mc.get('min_count')}", f"subsample {mc.get('sample')}"]
        if mc.get("loss") == "negative":
            knobs.append(f"{mc.get('negative')} negatives")
        if tc:
            knobs += [f"{tc.get('epochs')} epochs" + (" (stopped early)" if summ.get("stopped") else ""),
                      f"lr {tc.get('lr')}", f"batch {tc.get('batch_size')}", f"seed {tc.get('seed')}"]
        out["knobs"] = " · ".join(knobs)
    return out


def model_card(model: Any, *, current: bool | None = None, border: bool = True) -> None:
    """A model's card: name, corpus, architecture, knobs, vocabulary size, final loss, training time, scores.

    Takes a loaded ``store.Model`` or a ``store.ModelInfo`` (both have ``config``, ``name``, ``path``, ``scores``).
    """
    d = describe(model.config)
    if current is None:
        current = str(model.path) == str(st.session_state.get("current_model"))
    with st.container(border=border):
        badge = "  :green-badge[:material/check: current]" if current else ""
        st.markdown(f"**{model.name}**{badge}")
        st.caption(f"{d['corpus']}  ·  {d['architecture']}  ·  created {d['created']}")
        c = st.columns(4)
        c[0].metric("Vocabulary", d["vocab"])
        c[1].metric("Dimension", d["dim"])
        c[2].metric("Final loss", d["loss"])
        c[3].metric("Training time", d["time"])
        if "knobs" in d:
            st.caption(d["knobs"])
        scores = getattr(model, "scores", None)
        if scores:
            parts = []
            for key, title, pct in (("wordsim353", "WordSim353", False), ("simlex999", "SimLex-999", False),
                                    ("analogy", "Analogies", True)):
                v = scores.get(key)
                if isinstance(v, (int, float)):
                    parts.append(f"{title} {v:.1%}" if pct else f"{title} ρ = {v:.3f}")
            if parts:
                st.caption(":material/grading: " + " · ".join(parts))


def projector_zip(path: str | os.PathLike) -> bytes:
    """vectors.tsv + metadata.tsv for projector.tensorflow.org ("Load" takes both), in one zip to download."""
    import io
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory() as d:
        files = store.export_model(path, "projector", d)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in files:
                z.write(f, f.name)
        return buf.getvalue()


# ---------------------------------------------------------------------------------------------- look


def load_css() -> None:
    """The app's small stylesheet (assets/style.css)."""
    css = ROOT / "assets" / "style.css"
    if css.is_file():
        st.html(f"<style>{css.read_text(encoding='utf-8')}</style>")


def parse_words(text: str) -> list[str]:
    """Words typed by a user: separated by commas, spaces or new lines; duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for w in text.replace(",", " ").replace(";", " ").split():
        w = w.strip()
        if w:
            seen.setdefault(w, None)
    return list(seen)


def resolve_word(vectors, word: str) -> str:
    """The vocabulary's spelling of ``word`` (tries lower case too); W2VError with close spellings otherwise."""
    w = word.strip()
    if not w:
        raise W2VError("Type a word first.")
    if w in vectors:
        return w
    if w.lower() in vectors:
        return w.lower()
    vectors.get_index(w)  # raises with suggestions
    return w
