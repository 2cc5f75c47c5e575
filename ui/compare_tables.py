"""The Compare page's two tables: the models' settings row by row, and their benchmark scores."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import cards, session
from ui.session import load_model
from ui.widgets import md_escape, show_error
from w2v_core import evaluation, store
from w2v_core.errors import W2VError


def _score(scores: dict, key: str, pct: bool = False) -> str:
    """A benchmark score as text: "not evaluated" before the benchmarks ran, "—" when too few words were known."""
    if not scores:
        return "not evaluated"
    v = scores.get(key)
    if not isinstance(v, (int, float)):
        return "—"
    return f"{v:.1%}" if pct else f"{v:.3f}"


def settings_table(recs: list[store.ModelRecord], labels: list[str]) -> None:
    st.subheader("Settings")
    rows = []
    settings = [cards.settings(r) for r in recs]
    for label in cards.SETTINGS:
        vals = [s[label] for s in settings]
        if all(v == "—" for v in vals):
            continue
        rows.append({"setting": label, **dict(zip(labels, vals)), "_differs": len(set(vals)) > 1})
    df = pd.DataFrame(rows).set_index("setting")
    only_diff = st.toggle("Show only the settings that differ", key="cmp_only_diff")
    if only_diff:
        df = df[df["_differs"]]
    differs = df.pop("_differs")
    if df.empty:
        st.info("These models were made with exactly the same settings.")
        return
    styled = df.style.apply(lambda row: ["background-color: rgba(255, 200, 0, 0.25); font-weight: 600"
                                         if differs[row.name] else "" for _ in row], axis=1)
    st.dataframe(styled, width="stretch", height=35 * (len(df) + 1) + 12)  # every row, no inner scrolling
    st.caption("Highlighted rows differ between the models.")


def scores_table(recs: list[store.ModelRecord], labels: list[str]) -> None:
    st.subheader("Benchmark scores")
    paths = [str(r.path) for r in recs]
    scores = {str(r.path): r.scores for r in recs}
    rows = []
    for p, label in zip(paths, labels):
        sc = scores[p] or {}
        d = sc.get("details") or {}
        ws, sl, an = d.get("wordsim353") or {}, d.get("simlex999") or {}, d.get("analogy") or {}
        rows.append({"model": label, "WordSim353 ρ": _score(sc, "wordsim353"), "SimLex-999 ρ": _score(sc, "simlex999"),
                     "analogies": _score(sc, "analogy", pct=True),
                     "WordSim353 pairs": f"{ws.get('pairs', 0)}/{ws.get('total', 0)}" if ws else "",
                     "SimLex-999 pairs": f"{sl.get('pairs', 0)}/{sl.get('total', 0)}" if sl else "",
                     "analogy questions": f"{an.get('covered', 0):,}/{an.get('questions', 0):,}" if an else ""})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"WordSim353 pairs": st.column_config.TextColumn(
                     help="Pairs of the benchmark whose words the model knows"),
                     "analogy questions": st.column_config.TextColumn(
                         help="Questions whose four words the model knows")})
    todo = [p for p in paths if not scores[p] and session.writable(p)]  # gallery models are never written
    if todo:
        names = [lab for p, lab in zip(paths, labels) if p in todo]
        if st.button(f"Compute missing scores ({md_escape(', '.join(names))})", key="cmp_eval"):
            bar = st.progress(0.0, text="Evaluating…")
            for k, p in enumerate(todo):
                m = load_model(p)

                def tick(f: float, msg: str, _k: int = k, _name: str = m.name) -> None:
                    bar.progress((_k + f) / len(todo), text=f"{_name}: {msg}")

                try:
                    res = evaluation.evaluate(m.vectors, progress=tick)
                    store.save_scores(p, evaluation.without_tables(res))
                except (W2VError, OSError) as e:
                    show_error(f"{m.name}: {e}")
            bar.empty()
            st.rerun()
