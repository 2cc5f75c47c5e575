"""Neighbours & analogies: ask the current model questions about words.

The first questions are the app's showcase examples (``w2v_core.showcase``), which a first model answers sensibly;
every example and every "did you mean" spelling is a button that asks it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import cards, shell
from ui.session import require_model
from ui.widgets import PERSIST, default, md_escape, parse_words, pieces_note, plot_text, resolve_word, show_warning
from w2v_core import showcase
from w2v_core.errors import W2VError
from w2v_core.vectors import WordVectors

shell.require_app()

ss = st.session_state


def _set(**values: str) -> None:
    """A clicked example fills the fields it names (runs as a callback, before the widgets are drawn)."""
    for k, v in values.items():
        ss[k] = v


def examples(key: str, options: dict[str, dict[str, str]], label: str = "Try") -> None:
    """Clickable examples: each label fills its fields (``{label: {widget key: value}}``)."""
    if not options:
        return

    def pick() -> None:
        chosen = ss.get(key)
        if chosen in options:
            _set(**options[chosen])
        ss[key] = None  # a chip is an action, not a state: it can be clicked again

    st.pills(label, list(options), key=key, on_change=pick)


def unknown_words(e: W2VError, wv: WordVectors, typed: Sequence[str], key: str,
                  fill: Callable[[str, str], dict[str, str]]) -> None:
    """A typed word the model does not know: the message, and its close spellings as buttons.

    ``fill(unknown, spelling)`` gives the fields a clicked spelling changes.
    """
    show_warning(str(e).split(" Did you mean")[0])  # says "Try a more common word." itself when nothing is close
    bad = next((w for w in typed if w.strip() and w.strip() not in wv and w.strip().lower() not in wv), None)
    close = wv.suggest(bad) if bad and len(bad.split()) == 1 else []
    if close:
        examples(key, {w: fill(bad, w) for w in close}, "Did you mean")


def neighbour_chart(df: pd.DataFrame, word: str) -> go.Figure:
    """Cosines as dots on an axis that spans only their range, so the differences between neighbours show."""
    lo, hi = float(df["cosine"].min()), float(df["cosine"].max())
    pad = max(0.02, (hi - lo) * 0.12)
    rows = df.iloc[::-1]
    fig = go.Figure(go.Scatter(
        x=rows["cosine"], y=[plot_text(w) for w in rows["word"]], mode="markers+text", text=[f"{c:.3f}" for c in rows["cosine"]],
        textposition="middle right", marker=dict(size=11, color="#4c78a8"), cliponaxis=False,
        customdata=rows[["count"]] if "count" in rows else None,
        hovertemplate="%{y}: cosine %{x:.3f}" + ("<br>seen %{customdata[0]:,} times" if "count" in rows else "")
                      + "<extra></extra>"))
    fig.update_layout(height=max(240, 26 * len(df) + 70), margin=dict(l=0, r=40, t=30, b=0),
                      title=f"Nearest to '{plot_text(word)}' (cosine similarity)", yaxis_title=None, xaxis_title=None)
    fig.update_xaxes(range=[max(-1.0, lo - pad), min(1.0, hi + pad * 2)], showgrid=True)  # a cosine: never past ±1
    fig.update_yaxes(showgrid=True, gridcolor="rgba(0,0,0,0.06)")
    return fig


st.title(":material/hub: Neighbours & analogies")
st.caption("All answers use cosine similarity between word vectors: 1 = same direction, 0 = unrelated.")

model = require_model()
wv = model.vectors

# the showcase examples this model knows; a model on other text falls back to frequent longer words
words = showcase.known(showcase.NEIGHBOUR_WORDS, wv) or showcase.content_words(wv.words)
pairs = [p for p in showcase.SIMILAR_PAIRS if all(w in wv for w in p)] or [tuple(words[:2])] * (len(words) > 1)
analogies = [q for q in showcase.ANALOGIES if all(w in wv for w in q)]
odds = [q for q in showcase.ODD_ONE_OUT if all(w in wv for w in q)] or [tuple(words[:4])] * (len(words) > 3)
first_an = analogies[0] if analogies else ("", "", "", "")
for k, v in {"nb_word": words[0] if words else "", "nb_k": 10, "nb_sim_a": pairs[0][0] if pairs else "",
             "nb_sim_b": pairs[0][1] if pairs else "", "nb_an_a": first_an[0], "nb_an_b": first_an[1],
             "nb_an_c": first_an[2], "nb_an_d": first_an[3], "nb_an_method": "3CosAdd", "nb_an_k": 5,
             "nb_odd": " ".join(odds[0]) if odds else ""}.items():
    default(k, v)

st.caption(f"Model **{md_escape(model.name)}** · {len(wv):,} words")
cards.health_note(model.path, quiet=True)  # an undertrained model's neighbours all score alike: say so

t_nb, t_sim, t_an, t_odd = st.tabs([":material/hub: Neighbours", ":material/compare_arrows: Similarity",
                                    ":material/function: Analogy", ":material/rule: Odd one out"])

with t_nb:
    c1, c2 = st.columns([2, 1])
    c1.text_input("Word", key="nb_word", persist_state=PERSIST, help="The words whose vectors point most nearly the same way.")
    c2.slider("How many", 1, 50, key="nb_k", persist_state=PERSIST)
    examples("nb_try", {w: {"nb_word": w} for w in words})
    if not ss["nb_word"].strip():
        st.info("Type a word, or pick one of the examples, to see its nearest neighbours: the words the model "
                "has seen in the most similar contexts.", icon=":material/lightbulb:")
    else:
        try:
            w = resolve_word(wv, ss["nb_word"])
            df = pd.DataFrame(wv.most_similar(w, topn=int(ss["nb_k"])), columns=["word", "cosine"])
            pieces_note(wv, [w])
            if wv.has_counts:
                df["count"] = [int(wv.counts[wv.index[x]]) for x in df["word"]]
            st.plotly_chart(neighbour_chart(df, w), key="nb_chart", config={"displayModeBar": False})
            if "count" in df and w in wv:
                rare = df.loc[df["count"] < 10, "word"].tolist()
                st.caption(f"'{md_escape(w)}' was seen {int(wv.counts[wv.index[w]]):,} times in the corpus." +
                           (f" Words seen only a few times ({md_escape(', '.join(rare[:5]))}: under 10 times) get "
                            "rougher vectors; more text makes them steadier." if rare else ""))
        except W2VError as e:
            unknown_words(e, wv, [ss["nb_word"]], "nb_fix", lambda bad, w: {"nb_word": w})

with t_sim:
    c1, c2 = st.columns(2)
    c1.text_input("First word", key="nb_sim_a", persist_state=PERSIST)
    c2.text_input("Second word", key="nb_sim_b", persist_state=PERSIST)
    examples("nb_sim_try", {f"{a} · {b}": {"nb_sim_a": a, "nb_sim_b": b} for a, b in pairs})
    if ss["nb_sim_a"].strip() and ss["nb_sim_b"].strip():
        try:
            a, b = resolve_word(wv, ss["nb_sim_a"]), resolve_word(wv, ss["nb_sim_b"])
            sim = wv.similarity(a, b)
            pieces_note(wv, [a, b])
            st.metric(f"cosine({md_escape(a)}, {md_escape(b)})", f"{sim:.3f}")
            st.progress(min(max((sim + 1) / 2, 0.0), 1.0), text="-1 (opposite) ... 0 (unrelated) ... 1 (same direction)")
            rank = wv.neighbour_rank(a, b, 1000) if a != b and b in wv else None
            st.caption(f"'{md_escape(b)}' is neighbour number {rank:,} of '{md_escape(a)}'." if rank
                       else "The same word twice." if a == b
                       else f"'{md_escape(b)}' is not among the 1,000 nearest neighbours of '{md_escape(a)}'.")
        except W2VError as e:
            unknown_words(e, wv, [ss["nb_sim_a"], ss["nb_sim_b"]], "nb_sim_fix",
                          lambda bad, w: {"nb_sim_a" if bad == ss["nb_sim_a"] else "nb_sim_b": w})
    else:
        st.info("Type two words to see how similar the model finds them.", icon=":material/lightbulb:")

with t_an:
    st.markdown("**a** is to **b** as **c** is to **?** (the answer is near b − a + c)")
    c = st.columns(4)
    for col, k in zip(c, "abc"):
        col.text_input(k, key=f"nb_an_{k}", persist_state=PERSIST)
    c[3].text_input("expected (optional)", key="nb_an_d", persist_state=PERSIST,
                    help="The answer you expect: the page says where the model ranks it.")
    examples("nb_an_try", {f"{a} : {b} :: {c_} : ?": {"nb_an_a": a, "nb_an_b": b, "nb_an_c": c_, "nb_an_d": d}
                           for a, b, c_, d in analogies})
    c = st.columns([1.3, 1, 1.7])
    c[0].radio("Method", ["3CosAdd", "3CosMul"], key="nb_an_method", persist_state=PERSIST, horizontal=True,
               help="3CosAdd (Mikolov): cosine with b - a + c. 3CosMul (Levy & Goldberg): cos(x,b)·cos(x,c)/cos(x,a), "
                    "less dominated by one large similarity.")
    c[1].slider("Answers", 1, 20, key="nb_an_k", persist_state=PERSIST)
    keys = ("nb_an_a", "nb_an_b", "nb_an_c")
    if all(ss[k].strip() for k in keys):
        try:
            a, b, cc = (resolve_word(wv, ss[k]) for k in keys)
            expected = resolve_word(wv, ss["nb_an_d"]) if ss["nb_an_d"].strip() else None
            ranked = wv.most_similar(positive=[b, cc], negative=[a], topn=len(wv), method=ss["nb_an_method"].lower())
            pieces_note(wv, [a, b, cc])
            order = [x for x, _ in ranked]
            best = order[0] if order else "?"
            q = f"{md_escape(a)} : {md_escape(b)} :: {md_escape(cc)} : **{md_escape(best)}**"
            rank = order.index(expected) + 1 if expected in order else None
            if expected is None:
                st.info(f"{q}: the model's answer. Type the answer you expect to see where it ranks.",
                        icon=":material/lightbulb:")
            elif rank == 1:
                st.success(f"{q}: right, the expected answer is the model's first choice.", icon=":material/check_circle:")
            else:
                where = (f"its answer number {rank:,} of {len(wv):,}" if rank else "one of the query words"
                         if expected in (a, b, cc) else "not in the vocabulary")
                st.warning(f"{q}: not the expected **{md_escape(expected)}**, which is {where}. A small corpus "
                           "teaches few analogies; more text (or epochs) helps.", icon=":material/rule:")
            k = int(ss["nb_an_k"])
            shown = list(range(1, min(k, len(ranked)) + 1)) + ([rank] if rank and rank > k else [])
            df = pd.DataFrame([ranked[r - 1] for r in shown], columns=["answer", "score"], index=shown)
            if expected is not None:  # the expected answer gets its own row, at its own rank, when it is further down
                df["expected"] = ["✓" if x == expected else "" for x in df["answer"]]
            st.dataframe(df, column_config={"score": st.column_config.NumberColumn(format="%.3f")}, width=480)
        except W2VError as e:
            unknown_words(e, wv, [ss[k] for k in (*keys, "nb_an_d")], "nb_an_fix",
                          lambda bad, w: {next(k for k in (*keys, "nb_an_d") if ss[k] == bad): w})
    else:
        st.info("Fill in a, b and c, or pick an example.", icon=":material/lightbulb:")

with t_odd:
    st.text_input("Words (three or more)", key="nb_odd", persist_state=PERSIST, help="Separated by spaces or commas.")
    examples("nb_odd_try", {", ".join(q): {"nb_odd": " ".join(q)} for q in odds})
    typed = parse_words(ss["nb_odd"])
    if typed:
        try:
            found = [resolve_word(wv, w) for w in typed]
            odd = wv.doesnt_match(found)
            pieces_note(wv, found)
            st.info(f"The odd one out, for this model: **{md_escape(odd)}** (the word least like the others).",
                    icon=":material/rule:")
            rows = [{"word": w, "mean cosine to the others": sum(wv.similarities(w, [o for o in found if o != w]))
                     / (len(found) - 1)} for w in found]
            st.dataframe(pd.DataFrame(rows).sort_values("mean cosine to the others"), hide_index=True, width=480,
                         column_config={"mean cosine to the others": st.column_config.NumberColumn(format="%.3f")})
        except W2VError as e:
            unknown_words(e, wv, typed, "nb_odd_fix",
                          lambda bad, w: {"nb_odd": " ".join(w if x == bad else x for x in typed)})
    else:
        st.info("Type three or more words, or pick an example.", icon=":material/lightbulb:")
