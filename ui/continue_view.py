"""Training that continues a model, in the app: the Train page's "Start from" choice, the Models page's "Continue
training" button, the parent's loss curve before the child's, the lineage line and the "What changed" view.

The logic is ``w2v_core.continuation`` (the run) and ``w2v_core.changes`` (what changed); this module only draws.
A child is always saved in the visitor's own models folder (the job's root), so continuing a gallery model never
writes to the gallery, and the parent folder is never changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from ui import session
from ui.widgets import PERSIST, md_escape, show_error
from w2v_core import continuation, store
from w2v_core.changes import what_changed
from w2v_core.errors import W2VError

INIT_KEY = "train_init"  # session state: the folder the next run on the Train page continues ("" = none)
FRESH = ""
LOST_KEY = "train_init_lost"  # session state: the folder chosen under "Start from" that has gone since
ARCH_LABEL = {"skipgram": "Skip-gram", "cbow": "CBOW"}
LOSS_LABEL = {"negative": "Negative sampling", "softmax": "Full softmax", "hs": "Hierarchical softmax"}


def continue_button(container, path: str, key: str) -> None:
    """The Models page's "Continue training": the Train page opens with this model as its starting point."""
    if container.button("Continue training", key=key, icon=":material/fast_forward:",
                        help="Train this model further (more epochs, or more text: new words join). The result is "
                             "a new model in your own models; this one is not changed."):
        st.session_state[INIT_KEY] = path
        st.switch_page("pages/train.py")


def start_from(dim_choices: list[int]) -> store.ModelRecord | None:
    """The Train page's "Start from" choice: random vectors, or a visible model to continue (None: random)."""
    records = [r for r in session.visible_records() if r.ok]
    paths = [FRESH] + [str(r.path) for r in records]
    by_path = {str(r.path): r for r in records}
    chosen = st.session_state.get(INIT_KEY, FRESH)
    if chosen not in paths:
        if chosen:  # chosen before, deleted or moved since (in another tab, by the quota): say so, never train quietly
            st.session_state[LOST_KEY] = chosen  # from random vectors instead
        st.session_state[INIT_KEY] = FRESH
    st.selectbox("Start from", paths, key=INIT_KEY, persist_state=PERSIST, format_func=lambda p: "random vectors (a new model)" if not p
                 else by_path[p].name + (" (imported vectors)" if by_path[p].imported else ""),
                 on_change=st.session_state.pop, args=(LOST_KEY, None),
                 help="Continue a saved or imported model: its words keep their vectors, words of the new text "
                      "seen at least min count times join, and the result is saved as a new model.")
    lost = st.session_state.get(LOST_KEY)
    if lost:
        st.warning(f"The model chosen to start from ({md_escape(Path(lost).name)}) is no longer here: it was deleted "
                   "or moved, so nothing was started from it. Choose another under *Start from*, or press **Train** "
                   "to train a new model from random vectors.", icon=":material/warning:")
    rec = by_path.get(st.session_state[INIT_KEY])
    if rec is not None:
        lock_to(rec, dim_choices)
        grams = " and its n-gram settings" if rec.model is not None and rec.model.subwords else ""
        st.caption(f"Continuing **{md_escape(rec.name)}** ({rec.dim} dimensions"
                   + ("; imported vectors have no output layer, so it starts at zeros" if rec.imported else
                      ", its architecture and output layer" + grams) + "). Learning rate *auto* = the parent's starting "
                   "rate on its own corpus (more epochs), 3/4 of it on other text. The parent is not changed.")
    return rec


def lost_parent() -> bool:
    """Whether the model chosen to start from has gone since (start_from said so); True once: a Train press that
    sees it starts nothing, the next one trains from random vectors, as the page then says."""
    return st.session_state.pop(LOST_KEY, None) is not None


def lock_to(rec: store.ModelRecord, dim_choices: list[int]) -> None:
    """Set the Train page's architecture, output layer, subword settings and dimension to the parent's (before they
    are drawn; a dimension the slider does not offer stays as it is: the run takes the parent's anyway)."""
    ss = st.session_state
    if rec.model is not None:
        mc = rec.model
        ss["train_arch"], ss["train_loss"] = ARCH_LABEL[mc.arch], LOSS_LABEL[mc.loss]
        ss["train_subwords"] = mc.subwords  # a subword parent keeps its n-grams; subwords cannot be turned on
        if mc.subwords:
            ss["train_ngrams"], ss["train_buckets"] = (mc.min_n, mc.max_n), mc.buckets
    if rec.dim in dim_choices:
        ss["train_dim"] = rec.dim


def locked(rec: store.ModelRecord | None) -> dict[str, bool]:
    """Which Train page widgets the parent fixes."""
    return {"arch": rec is not None and rec.model is not None, "dim": rec is not None}


def child_name(rec: store.ModelRecord, corpus_source: str | None, epochs: int) -> str:
    src = Path(str(corpus_source or "corpus")).stem
    return f"{rec.name}+{src}-e{epochs}"


@st.cache_data(show_spinner=False, max_entries=16)
def _history(path: str, stamp: int) -> dict[str, list]:
    return store.load_model(path).history


def history_of(rec: store.ModelRecord) -> dict[str, list]:
    """A saved model's loss history ({"batch": [...], "epoch": [...]}), cached by its folder and time stamp."""
    return _history(str(rec.path), rec.mtime_stamp)


def parent_curve(job) -> tuple[list[dict[str, float]], float]:
    """The parent's loss curve ({x, loss} by epoch) and its epochs, to draw before a continued run's curve."""
    parent = getattr(job, "parent", None)
    if not parent:
        return [], 0.0
    try:
        rec = store.read_record(parent)
        hist = history_of(rec)
    except (W2VError, OSError):
        return [], 0.0
    epochs = float(rec.summary.get("epochs") or rec.epochs or 0)
    points = [{"x": float(b.get("fraction", 0.0)) * epochs, "loss": float(b["loss"])}
              for b in hist.get("batch") or [] if isinstance(b.get("loss"), (int, float))]
    return points, epochs


def lineage_line(rec: store.ModelRecord) -> str | None:
    """The model card's lineage line, or None for a model trained from scratch."""
    lineage = rec.config.get("lineage")
    return continuation.describe(lineage) if isinstance(lineage, dict) else None


def find_parent(rec: store.ModelRecord) -> store.ModelRecord | None:
    """The visible model a child was continued from (by folder and name), or None when it is gone."""
    lineage = rec.config.get("lineage") or {}
    for r in session.visible_records():
        if r.ok and r.path.name == lineage.get("parent_folder") and r.name == lineage.get("parent"):
            return r
    return None


@st.cache_data(show_spinner="Aligning the two models ...", max_entries=8)
def _changes(parent: str, p_stamp: int, child: str, c_stamp: int) -> dict[str, Any]:
    ch = what_changed(session.load_model(parent).vectors, session.load_model(child).vectors)
    return {"top": ch.top_mean_cosine, "shared": ch.shared, "moved": ch.moved, "new": ch.new_words,
            "similarity": ch.similarity}


def what_changed_view(rec: store.ModelRecord, key: str) -> None:
    """What a continued run changed: moved words, new words and similarities, with the counts behind them."""
    parent = find_parent(rec)
    if parent is None:
        st.caption("The model it was continued from is no longer here, so there is nothing to compare with.")
        return
    if not st.toggle("What changed since its parent", key=key):
        return
    try:
        ch = _changes(str(parent.path), parent.mtime_stamp, str(rec.path), rec.mtime_stamp)
    except W2VError as e:
        show_error(e)
        return
    st.caption(f"Rotated onto **{md_escape(parent.name)}** over their shared words (Procrustes). The parent's top "
               f"1,000 words keep a mean aligned cosine of {ch['top']:.3f} with their old vectors (1 = unchanged).")
    tabs = st.tabs(["Moved most", "New words", "Similarities that changed"])
    for tab, rows, empty in zip(tabs, (ch["moved"], ch["new"], ch["similarity"]),
                                ("No shared word occurs often enough in the new text to have moved.",
                                 "No new words: the new text's words were all known.", "No pairs to compare.")):
        with tab:
            if rows:
                st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
            else:
                st.caption(empty)
