"""A model's card: name, corpus, architecture, settings, vocabulary, final loss, training time and scores.

Everything on it comes from the folder's ``store.ModelRecord``, read fresh on every run, so a rename or scores
written meanwhile (``python -m w2v_core evaluate DIR`` while the app runs) show on the next rerun.
"""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from ui import session
from ui.widgets import md_escape
from w2v_core import explorer, store
from w2v_core.errors import W2VError
from w2v_core import continuation
from w2v_core.store import ModelRecord

ARCH = {"skipgram": "Skip-gram", "cbow": "CBOW"}
OUTPUT = {"negative": "negative sampling", "softmax": "full softmax", "hs": "hierarchical softmax"}
SETTINGS: dict[str, Callable[[ModelRecord], Any]] = {  # what the Compare page lines up, row by row
    "corpus": lambda r: r.corpus_name, "corpus tokens": lambda r: r.corpus_tokens,
    "architecture": lambda r: r.model and r.model.arch, "output layer": lambda r: r.model and r.model.loss,
    "dimension": lambda r: r.model and r.model.dim, "window": lambda r: r.model and r.model.window,
    "negatives": lambda r: r.model and r.model.negative, "min count": lambda r: r.model and r.model.min_count,
    "subsampling": lambda r: r.model and r.model.sample, "epochs": lambda r: r.epochs,
    "learning rate": lambda r: r.lr, "batch size": lambda r: r.batch_size, "seed": lambda r: r.seed,
    "vocabulary": lambda r: r.vocab_size, "final loss": lambda r: r.final_loss,
    "training time (s)": lambda r: r.seconds, "imported from": lambda r: r.source_file,
    "phrases": lambda r: phrases_setting(r), "unicode": lambda r: r.corpus and r.corpus.normalize,
    "subwords": lambda r: subwords_setting(r),
}
SCORES = (("wordsim353", "WordSim353", False), ("simlex999", "SimLex-999", False), ("analogy", "Analogies", True))


def phrases_setting(r: ModelRecord) -> str | None:
    """How the corpus's phrases were made ("2 passes, default > 10, min count 5"), "off", or None when unknown."""
    c = r.corpus
    if c is None:
        return None
    if not c.phrases:
        return "off"
    return (f"{c.phrases} pass{'es' if c.phrases > 1 else ''}, {c.phrase_scoring} > {c.phrase_threshold:g}, "
            f"min count {c.phrase_min_count}")


def subwords_setting(r: ModelRecord) -> str | None:
    """A subword model's n-grams ("3-6 character n-grams, 200,000 buckets"), "off", or None when unknown."""
    mc = r.model
    if mc is None:
        return None
    return f"{mc.min_n}-{mc.max_n} character n-grams, {mc.buckets:,} buckets" if mc.subwords else "off"


def fmt_int(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) else "-"


def fmt_secs(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def fmt_value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def settings(r: ModelRecord) -> dict[str, str]:
    """Every setting of :data:`SETTINGS` as text ("—" where the model does not have it)."""
    return {label: fmt_value(get(r)) for label, get in SETTINGS.items()}


def describe(r: ModelRecord) -> dict[str, str]:
    """The facts a model card shows, as strings (imported vectors have fewer)."""
    mc = r.model
    out = {
        "corpus": (f"imported from {r.source_file or 'a vectors file'}" if r.imported
                   else f"{r.corpus_name or '-'} · {fmt_int(r.corpus_tokens)} tokens"),
        "architecture": ("imported vectors" if r.imported else
                         f"{ARCH.get(mc.arch, mc.arch)} · {OUTPUT.get(mc.loss, mc.loss)}" if mc else "- · -"),
        "vocab": fmt_int(r.vocab_size),
        "dim": fmt_int(r.dim),
        "loss": f"{r.final_loss:.4f}" if r.final_loss is not None else "-",
        "time": fmt_secs(r.seconds),
        "created": r.created or "-",
    }
    if mc:
        knobs = [f"window {mc.window}", f"min count {mc.min_count}", f"subsample {mc.sample}"]
        if mc.loss == "negative":
            knobs.append(f"{mc.negative} negatives")
        if r.train:
            knobs += [f"{r.epochs} epochs" + (" (stopped early)" if r.stopped else ""),
                      f"lr {r.lr}", f"batch {r.batch_size}", f"seed {r.seed}"]
        if r.corpus is not None and r.corpus.phrases:
            knobs.append(f"phrases: {phrases_setting(r)}")
        if mc.subwords:
            knobs.append(f"subwords: {subwords_setting(r)}")
        out["knobs"] = " · ".join(knobs)
    return out


def scores_line(scores: dict[str, Any] | None) -> str | None:
    """The benchmark scores in one line, or None when there are none."""
    parts = []
    for key, title, pct in SCORES:
        v = (scores or {}).get(key)
        if isinstance(v, (int, float)):
            parts.append(f"{title} {v:.1%}" if pct else f"{title} ρ = {v:.3f}")
    return " · ".join(parts) or None


def model_card(r: ModelRecord, *, current: bool | None = None, border: bool = True) -> None:
    """Draw a model's card; ``current`` (default: is it the session's current model) adds a badge."""
    d = describe(r)
    if current is None:
        current = str(r.path) == str(st.session_state.get(session.CURRENT))
    with st.container(border=border):
        badge = "  :green-badge[:material/check: current]" if current else ""
        st.markdown(f"**{md_escape(r.name)}**{badge}")
        st.caption(f"{md_escape(d['corpus'])}  ·  {md_escape(d['architecture'])}  ·  created {md_escape(d['created'])}")
        c = st.columns(4)
        c[0].metric("Vocabulary", d["vocab"])
        c[1].metric("Dimension", d["dim"])
        c[2].metric("Final loss", d["loss"])
        c[3].metric("Training time", d["time"])
        if "knobs" in d:
            st.caption(md_escape(d["knobs"]))
        lineage = r.config.get("lineage")
        if isinstance(lineage, dict):
            st.caption(":material/family_history: " + md_escape(continuation.describe(lineage)))
        line = scores_line(r.scores)
        if line:
            st.caption(":material/grading: " + line)


def broken_card(r: ModelRecord) -> None:
    """A folder that cannot be opened: its folder name and why, as plain text (the page adds its Delete button)."""
    st.markdown(f":material/broken_image: **{md_escape(r.path.name)}** · cannot be opened")
    st.caption(md_escape(r.error or "The folder is damaged."))


@st.cache_data(max_entries=32, show_spinner=False)
def _health(path: str, stamp: int) -> explorer.Health:
    return explorer.health(session.load_model(path).vectors)


def health_note(path: str, quiet: bool = False) -> None:
    """A model's health: a warning (what to change) when its vectors are crowded together, else one caption line
    (``quiet``: nothing when all is well)."""
    try:
        h = _health(str(path), store.mtime_stamp(path))
    except (W2VError, OSError):
        return
    if not h.ok:
        st.warning(h.advice, icon=":material/health_and_safety:")
    elif not quiet and h.mean_cosine == h.mean_cosine:  # not NaN (a tiny vocabulary)
        rare = (f"; {h.rare_share:.0%} of its words were seen fewer than {explorer.WELL_SEEN} times (rougher vectors)"
                if h.rare_share else "")
        st.caption(f":material/health_and_safety: Health: random word pairs have a mean cosine of "
                   f"{h.mean_cosine:.2f} (spread out, as a trained model's are){rare}.")
