"""Evaluate: how good is the current model? Word-similarity and analogy benchmarks, and where it disagrees with people."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from ui import session, shell
from ui.session import require_model
from ui.widgets import md_escape, show_error, show_warning
from w2v_core import evaluation, store
from w2v_core.errors import W2VError

shell.require_app()


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:.1%}" if pct else f"{x:.3f}"


def _scores_row(result: dict) -> None:
    d = result.get("details", {})
    cols = st.columns(3)
    for col, key in zip(cols, ("wordsim353", "simlex999", "analogy")):
        det = d.get(key) or {}
        with col:
            if key == "analogy":
                st.metric("Google analogies (accuracy)", _fmt(result.get(key), pct=True))
                if det:
                    st.caption(f"{det.get('covered', 0):,} of {det.get('questions', 0):,} questions use words the "
                               f"model knows ({det.get('correct', 0):,} right)")
            else:
                st.metric(f"{evaluation.TITLES[key]} (Spearman ρ)", _fmt(result.get(key)))
                if det:
                    st.caption(f"{det.get('pairs', 0):,} of {det.get('total', 0):,} pairs covered")
            if det and result.get(key) is None:
                st.caption("Too few known words for a score: train on more text or lower *min count*.")


def _analogy_chart(det: dict) -> None:
    title = evaluation.section_title
    rows = [{"section": title(name), "id": name, "accuracy": v["accuracy"] or 0.0, "correct": v["correct"],
             "covered": v["covered"], "kind": "grammar" if evaluation.is_syntactic(name) else "meaning"}
            for name, v in det.get("sections", {}).items() if v.get("covered")]
    missing = [title(name) for name, v in det.get("sections", {}).items() if not v.get("covered")]
    if not rows:
        st.info("No analogy question uses only words this model knows, so there is nothing to chart. "
                "A larger corpus (WikiText) covers many more of them.")
        return
    df = pd.DataFrame(rows)
    fig = px.bar(df, x="section", y="accuracy", color="kind", text=df["correct"].astype(str) + "/" + df["covered"].astype(str),
                 hover_data={"correct": True, "covered": True, "kind": False},
                 color_discrete_map={"meaning": "#4c78a8", "grammar": "#f58518"},
                 labels={"accuracy": "accuracy", "section": "", "kind": "tests"})
    fig.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, min(1.0, max(0.1, df["accuracy"].max() * 1.25))],
                      height=420, margin=dict(t=30, b=10), legend=dict(orientation="h", y=1.1), xaxis_tickangle=-35)
    fig.update_traces(textposition="outside")
    st.plotly_chart(fig, width="stretch", key="eval_analogy_chart")
    sem, syn = det.get("semantic", {}), det.get("syntactic", {})
    st.caption(f"Meaning (capitals, currencies, family): {_fmt(sem.get('accuracy'), True)} of {sem.get('covered', 0):,} · "
               f"grammar (plurals, tenses, comparatives): {_fmt(syn.get('accuracy'), True)} of {syn.get('covered', 0):,}"
               + (f" · not covered at all: {', '.join(missing)}" if missing else ""))
    with_examples = [r["id"] for r in rows if det["sections"][r["id"]].get("examples")]
    if with_examples:
        name = st.selectbox("See the model's answers in a section", with_examples, key="eval_section",
                            format_func=title)
        ex = det["sections"][name]["examples"]
        st.dataframe(pd.DataFrame([{"": "✓" if e["correct"] else "✗",
                                    "question": f"{e['a']} : {e['b']} :: {e['c']} : ?",
                                    "expected": e["expected"], "model's answer": e["answer"] or "—"} for e in ex]),
                     hide_index=True, width="stretch")


def _pairs_view(det: dict, key: str) -> None:
    table = evaluation.merge_symmetric(det.get("table") or [])  # "bank – money" and "money – bank" once
    if len(table) < evaluation.MIN_PAIRS:
        st.info("Too few pairs use words this model knows to compare it with people.")
        return
    df = pd.DataFrame(table)
    worst = evaluation.disagreements(table, n=12)
    number = {(r["w1"], r["w2"]): i for i, r in enumerate(worst, 1)}
    df["pair"] = df["w1"] + " – " + df["w2"]
    df["n"] = [number.get((a, b)) for a, b in zip(df["w1"], df["w2"])]
    hover = "<b>%{text}</b><br>people: %{x:.2f} / 10<br>cosine: %{y:.3f}<extra></extra>"
    fig = go.Figure()
    normal, bad = df[df["n"].isna()], df[df["n"].notna()]
    fig.add_trace(go.Scatter(x=normal["human"], y=normal["cosine"], mode="markers", name="pairs",
                             text=normal["pair"], marker=dict(size=7, color="#4c78a8", opacity=0.6),
                             hovertemplate=hover))
    # numbers, not words, on the red dots: whole pairs of words pile up; the table below names each number
    fig.add_trace(go.Scatter(x=bad["human"], y=bad["cosine"], mode="markers+text", name="biggest disagreements",
                             text=bad["pair"], texttemplate=[str(int(n)) for n in bad["n"]],
                             textposition="middle center", textfont=dict(size=10, color="white"),
                             marker=dict(size=17, color="#e45756"), hovertemplate=hover))
    fig.update_layout(xaxis_title="people's similarity score (0–10)", yaxis_title="model's cosine similarity",
                      height=460, margin=dict(t=30, b=10), legend=dict(orientation="h", y=1.08))
    st.plotly_chart(fig, width="stretch", key=f"eval_scatter_{key}")
    st.caption("Each dot is a word pair. If the model agreed with people, the dots would climb from bottom-left to "
               "top-right. Red, numbered: the pairs whose rank differs most between people and the model.")
    wdf = pd.DataFrame([{"#": i, "pair": f"{r['w1']} – {r['w2']}", "people (0–10)": r["human"],
                         "model cosine": r["cosine"],
                         "model thinks they are": "closer than people do" if r["gap"] > 0 else "further apart than people do"}
                        for i, r in enumerate(worst, 1)])
    st.dataframe(wdf, hide_index=True, width="stretch",
                 column_config={"model cosine": st.column_config.NumberColumn(format="%.3f"),
                                "people (0–10)": st.column_config.NumberColumn(format="%.2f")})


def _run(path: str, model: store.Model, which: list[str]) -> dict | None:
    bar = st.progress(0.0, text="Starting the benchmarks…")
    try:
        result = evaluation.evaluate(model.vectors, progress=lambda f, msg: bar.progress(f, text=msg),
                                     which=which, tables=True)
    except W2VError as e:
        bar.empty()
        show_error(e)
        return None
    bar.empty()
    if not session.writable(path):
        st.info("A gallery model is never changed here: these scores are shown, not saved.", icon=":material/info:")
        st.session_state.setdefault("eval_results", {})[path] = result
        return result
    try:
        store.save_scores(path, evaluation.without_tables(result))  # model cards read them on their next run
    except (W2VError, OSError) as e:
        show_warning(f"The scores were computed but could not be saved in the model folder: {e}", icon=None)
    st.session_state.setdefault("eval_results", {})[path] = result
    return result


# ----------------------------------------------------------------------------------------------- page

st.title(":material/grading: Evaluate")
st.write("Loss tells you the model is learning its task; benchmarks tell you whether the vectors capture meaning. "
         "**WordSim353** and **SimLex-999** ask people how similar two words are and check that the model's cosine "
         "ranks the pairs the same way (Spearman ρ, −1…1). The **Google analogies** ask *a is to b as c is to ?* "
         "(Paris : France :: Berlin : ?).")

model = require_model()
path = str(model.path)

st.subheader(f"Model: {md_escape(model.name)}")
st.caption(f"{len(model.vectors):,} words × {model.vectors.dim} dimensions" +
           (" · imported vectors" if model.imported else ""))

with st.form("eval_form", border=False):
    which = st.multiselect("Benchmarks", list(evaluation.BENCHMARKS), default=list(evaluation.BENCHMARKS),
                           format_func=lambda k: evaluation.TITLES[k], key="eval_which",
                           help="The analogy set has 19,544 questions; on a large vocabulary it takes a few seconds.")
    run = st.form_submit_button("Run benchmarks", type="primary", key="eval_run")

result = st.session_state.get("eval_results", {}).get(str(path))
if run:
    if not which:
        st.warning("Choose at least one benchmark.")
    else:
        result = _run(str(path), model, which)
        if result is not None and session.writable(path):
            st.success("Scores saved in the model folder; they now show on the model card and on the Compare page.")

stored = store.read_record(path).scores if result is None else None
if stored:
    st.caption("Scores stored with this model (run the benchmarks again to see the word pairs):")
    _scores_row(stored)
    det = (stored.get("details") or {}).get("analogy")
    if det:
        _analogy_chart(det)
    st.stop()
if result is None:
    st.info("This model has not been evaluated yet. Press **Run benchmarks**.")
    st.stop()

_scores_row(result)
st.caption("For scale: vectors trained on billions of words reach about 0.65–0.75 on WordSim353, 0.35–0.45 on "
           "SimLex-999 and over 70% on the analogies. A model trained on a few million words scores far lower, and "
           "covers fewer questions; that is expected.")
details = result.get("details", {})
if "analogy" in details:
    st.subheader("Analogies by section")
    _analogy_chart(details["analogy"])
pair_sets = [k for k in ("wordsim353", "simlex999") if k in details]
if pair_sets:
    st.subheader("Where the model disagrees with people")
    tabs = st.tabs([evaluation.TITLES[k] for k in pair_sets])
    for tab, key in zip(tabs, pair_sets):
        with tab:
            _pairs_view(details[key], key)
