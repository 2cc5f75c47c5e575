"""Neighbours & analogies: ask the current model questions about words."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from ui import shell
from ui.session import require_model
from ui.widgets import PERSIST, default, md_escape, parse_words, resolve_word, show_warning
from w2v_core.errors import W2VError

shell.require_app()

ss = st.session_state

st.title(":material/hub: Neighbours & analogies")
st.caption("All answers use cosine similarity between word vectors: 1 = same direction, 0 = unrelated.")

model = require_model()
wv = model.vectors

examples = [w for w in ("king", "city", "music", "war", "france", "water") if w in wv] or wv.words[:3]
first = examples[0] if examples else ""
pair = next((q for q in (("france", "germany"), ("war", "battle"), ("city", "town"), ("cat", "dog"))
             if all(w in wv for w in q)), tuple(examples[:2]) if len(examples) > 1 else ("", ""))
odd = next((q for q in (("france", "germany", "italy", "music"), ("king", "queen", "prince", "river"),
                        ("cat", "dog", "horse", "paris")) if all(w in wv for w in q)), tuple(examples[:4]))
analogy = next((q for q in (("man", "king", "woman"), ("france", "paris", "germany"), ("good", "better", "bad"))
                if all(w in wv for w in q)), ("", "", ""))
for k, v in {"nb_word": first, "nb_k": 10, "nb_sim_a": pair[0], "nb_sim_b": pair[1],
             "nb_an_a": analogy[0], "nb_an_b": analogy[1], "nb_an_c": analogy[2], "nb_an_method": "3CosAdd", "nb_an_k": 5,
             "nb_odd": " ".join(odd)}.items():
    default(k, v)

st.caption(f"Model **{md_escape(model.name)}** · {len(wv):,} words · a few to try: {md_escape(', '.join(examples))}")

t_nb, t_sim, t_an, t_odd = st.tabs([":material/hub: Neighbours", ":material/compare_arrows: Similarity",
                                    ":material/function: Analogy", ":material/rule: Odd one out"])

with t_nb:
    c1, c2 = st.columns([2, 1])
    c1.text_input("Word", key="nb_word", persist_state=PERSIST, help="The words whose vectors point most nearly the same way.")
    c2.slider("How many", 1, 50, key="nb_k", persist_state=PERSIST)
    if ss["nb_word"].strip():
        try:
            w = resolve_word(wv, ss["nb_word"])
            res = wv.most_similar(w, topn=int(ss["nb_k"]))
            df = pd.DataFrame(res, columns=["word", "cosine"])
            if wv.counts is not None and wv.counts.any():
                df["count"] = [int(wv.counts[wv.index[x]]) for x in df["word"]]
            df.index = range(1, len(df) + 1)
            left, right = st.columns([3, 2])
            fig = px.bar(df.iloc[::-1], x="cosine", y="word", orientation="h")
            fig.update_traces(marker_color="#4c78a8", texttemplate="%{x:.3f}", textposition="inside",
                              hovertemplate="%{y}: %{x:.3f}<extra></extra>")
            fig.update_layout(height=max(260, 28 * len(df) + 60), margin=dict(l=0, r=0, t=30, b=0),
                              title=f"Nearest to '{w}'", yaxis_title=None)
            fig.update_xaxes(range=[min(0.0, float(df["cosine"].min())), 1.0])
            left.plotly_chart(fig, key="nb_chart", config={"displayModeBar": False})
            right.dataframe(df, column_config={"cosine": st.column_config.NumberColumn(format="%.3f")},
                            width="stretch")
        except W2VError as e:
            show_warning(e)

with t_sim:
    c1, c2 = st.columns(2)
    c1.text_input("First word", key="nb_sim_a", persist_state=PERSIST)
    c2.text_input("Second word", key="nb_sim_b", persist_state=PERSIST)
    if ss["nb_sim_a"].strip() and ss["nb_sim_b"].strip():
        try:
            a, b = resolve_word(wv, ss["nb_sim_a"]), resolve_word(wv, ss["nb_sim_b"])
            sim = wv.similarity(a, b)
            st.metric(f"cosine({md_escape(a)}, {md_escape(b)})", f"{sim:.3f}")
            st.progress(min(max((sim + 1) / 2, 0.0), 1.0), text="-1 (opposite) ... 0 (unrelated) ... 1 (same direction)")
            rank = sum(1 for _, s in wv.most_similar(a, topn=min(len(wv) - 1, 1000)) if s > sim) + 1
            st.caption(f"'{md_escape(b)}' would be neighbour number {rank:,} of '{md_escape(a)}'" if rank <= 1000
                       else f"'{md_escape(b)}' is not among the 1,000 nearest neighbours of '{md_escape(a)}'.")
        except W2VError as e:
            show_warning(e)

with t_an:
    st.markdown("**a** is to **b** as **c** is to **?** (the answer is near b - a + c)")
    c = st.columns([1, 1, 1, 1.3])
    c[0].text_input("a", key="nb_an_a", persist_state=PERSIST)
    c[1].text_input("b", key="nb_an_b", persist_state=PERSIST)
    c[2].text_input("c", key="nb_an_c", persist_state=PERSIST)
    c[3].radio("Method", ["3CosAdd", "3CosMul"], key="nb_an_method", persist_state=PERSIST, horizontal=True,
               help="3CosAdd (Mikolov): cosine with b - a + c. 3CosMul (Levy & Goldberg): cos(x,b)·cos(x,c)/cos(x,a), "
                    "less dominated by one large similarity.")
    st.columns([1, 3])[0].slider("Answers", 1, 20, key="nb_an_k", persist_state=PERSIST)
    if all(ss[k].strip() for k in ("nb_an_a", "nb_an_b", "nb_an_c")):
        try:
            a, b, cc = (resolve_word(wv, ss[k]) for k in ("nb_an_a", "nb_an_b", "nb_an_c"))
            res = wv.most_similar(positive=[b, cc], negative=[a], topn=int(ss["nb_an_k"]),
                                  method=ss["nb_an_method"].lower())
            best = res[0][0] if res else "?"
            a, b, cc, best = (md_escape(x) for x in (a, b, cc, best))
            st.success(f"{a} : {b} :: {cc} : **{best}**", icon=":material/lightbulb:")
            df = pd.DataFrame(res, columns=["answer", "score"])
            df.index = range(1, len(df) + 1)
            st.dataframe(df, column_config={"score": st.column_config.NumberColumn(format="%.3f")}, width=480)
        except W2VError as e:
            show_warning(e)
    else:
        st.caption("Fill in a, b and c.")

with t_odd:
    st.text_input("Words (three or more)", key="nb_odd", persist_state=PERSIST, help="Separated by spaces or commas.")
    words = parse_words(ss["nb_odd"])
    if words:
        try:
            words = [resolve_word(wv, w) for w in words]
            odd = wv.doesnt_match(words)
            st.success(f"The odd one out is **{md_escape(odd)}**", icon=":material/rule:")
            rows = [{"word": w, "mean cosine to the others": sum(wv.similarities(w, [o for o in words if o != w]))
                     / (len(words) - 1)} for w in words]
            st.dataframe(pd.DataFrame(rows).sort_values("mean cosine to the others"), hide_index=True, width=480,
                         column_config={"mean cosine to the others": st.column_config.NumberColumn(format="%.3f")})
        except W2VError as e:
            show_warning(e)
