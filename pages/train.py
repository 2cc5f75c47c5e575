"""Train: choose a corpus and the knobs, start a background run, watch the loss fall, stop it any time."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages import _ui
from w2v_core.corpus import CorpusConfig
from w2v_core.errors import W2VError
from w2v_core.jobs import TrainingJob
from w2v_core.models import SOFTMAX_WARN_VOCAB, ModelConfig
from w2v_core.training import TrainConfig

try:  # the corpus engineer's shared picker (sources, uploads, size); a plain one until it exists
    from pages._corpus_ui import corpus_picker
except ImportError:  # pragma: no cover - depends on what has landed
    corpus_picker = None

ss = st.session_state
LR_CHOICES = ["auto", 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5]
BATCH_CHOICES = ["auto", 16, 64, 256, 1024, 4096, 16384]
DIM_CHOICES = [10, 25, 50, 64, 100, 150, 200, 300]
SAMPLE_CHOICES = [0.0, 1e-5, 1e-4, 1e-3, 1e-2]
SIZE_CHOICES = [5_000, 20_000, 50_000, 100_000, 200_000, 300_000, 0]

DEFAULTS = {
    "w_train_source": "sample", "w_train_size": 200_000,
    "w_train_arch": "Skip-gram", "w_train_loss": "Negative sampling", "w_train_window": 5, "w_train_dim": 100,
    "w_train_epochs": 5, "w_train_lr": "auto", "w_train_min_count": 5, "w_train_sample": 1e-3,
    "w_train_negative": 5, "w_train_batch": "auto", "w_train_seed": 1, "w_train_name": "",
}


def restore_knobs(job: TrainingJob) -> None:
    """After a refresh reattached this tab to its run, show the knobs that run was started with (not defaults)."""
    mc, tc, cc = job.model_config, job.train_config, job.corpus_config
    knobs = {"w_train_arch": "Skip-gram" if mc.arch == "skipgram" else "CBOW",
             "w_train_loss": "Full softmax" if mc.loss == "softmax" else "Negative sampling",
             "w_train_window": mc.window, "w_train_dim": mc.dim, "w_train_min_count": mc.min_count,
             "w_train_sample": mc.sample, "w_train_negative": mc.negative, "w_train_epochs": tc.epochs,
             "w_train_lr": "auto" if tc.lr is None else tc.lr, "w_train_batch": "auto" if tc.batch_size is None
             else tc.batch_size, "w_train_seed": tc.seed, "w_train_name": job.name or ""}
    choices = {"w_train_dim": DIM_CHOICES, "w_train_sample": SAMPLE_CHOICES, "w_train_lr": LR_CHOICES,
               "w_train_batch": BATCH_CHOICES}
    for k, v in knobs.items():
        if k not in choices or v in choices[k]:  # a value no widget offers keeps the widget's own
            ss[k] = v
    try:
        from pages._corpus_ui import SIZES, SOURCES
    except ImportError:  # pragma: no cover
        return
    if cc is not None and cc.source in SOURCES:  # a bundled/WikiText corpus (uploads and paths are files)
        ss["train_source"] = cc.source
        ss["train_split"] = cc.split
        if (cc.max_tokens or 0) in SIZES:
            ss["train_size"] = cc.max_tokens or 0
        for k in ("lowercase", "keep_numbers", "keep_punct", "min_token_len", "keep_unk", "pretokenized"):
            ss[f"train_{k}"] = getattr(cc, k)


if ss.pop("train_job_reattached", False) and ss.get("train_job") is not None:
    restore_knobs(ss["train_job"])
for k, v in DEFAULTS.items():
    _ui.default(k, v)

st.title(":material/model_training: Train")
st.caption("Pick a corpus and the knobs, press **Train**, and watch the loss fall. The run goes on in the "
           "background while you look at other pages; when it ends the model is saved and becomes the current one.")


# ---------------------------------------------------------------------------------------------- settings


def simple_corpus_picker() -> CorpusConfig:
    c1, c2 = st.columns(2)
    c1.selectbox("Corpus", ["sample", "lee"], key="w_train_source", persist_state="session",
                 format_func=lambda s: {"sample": "Wikipedia sample (bundled, ~465k tokens)",
                                        "lee": "Lee news (bundled, ~60k tokens)"}[s],
                 help="Text the model learns from. Both ship with the app and work offline.")
    c2.select_slider("Corpus size (tokens)", SIZE_CHOICES, key="w_train_size", persist_state="session",
                     format_func=lambda n: "all" if n == 0 else f"{n:,}",
                     help="Whole documents are taken in order until this many tokens; smaller trains faster.")
    size = ss["w_train_size"]
    return CorpusConfig(source=ss["w_train_source"], max_tokens=size or None)


job: TrainingJob | None = ss.get("train_job")
active = job is not None and job.snapshot().active

left, right = st.columns([5, 7], gap="large")

with left:
    with st.container(border=True):
        st.markdown("##### :material/library_books: Corpus")
        corpus_config: CorpusConfig | None
        if corpus_picker is not None:
            corpus_config = corpus_picker("train")
        else:
            corpus_config = simple_corpus_picker()

    with st.container(border=True):
        st.markdown("##### :material/neurology: Model")
        c = st.columns(2)
        c[0].radio("Architecture", ["Skip-gram", "CBOW"], key="w_train_arch", persist_state="session",
                   help="Skip-gram predicts each context word from the centre word; CBOW predicts the centre word "
                        "from the average of its context.")
        c[1].radio("Output layer", ["Negative sampling", "Full softmax"], key="w_train_loss", persist_state="session",
                   help="Negative sampling scores the true word against a few random ones (fast); full softmax "
                        "scores every word in the vocabulary (exact, slow on large vocabularies).")
        c = st.columns(2)
        c[0].slider("Window", 1, 15, key="w_train_window", persist_state="session",
                    help="How many words on each side count as context (the actual radius is drawn from 1..window).")
        c[1].select_slider("Dimension", DIM_CHOICES, key="w_train_dim", persist_state="session",
                           help="Length of each word vector: more can hold more, but needs more text and time.")
        c = st.columns(2)
        c[0].number_input("Min count", 1, 1000, key="w_train_min_count", persist_state="session", step=1,
                          help="Words seen fewer times than this are dropped from the vocabulary.")
        c[1].select_slider("Subsampling", SAMPLE_CHOICES, key="w_train_sample", persist_state="session",
                           format_func=lambda x: "off" if x == 0 else f"{x:g}",
                           help="Randomly skips very frequent words (the, of, ...) so rarer words get more updates.")
        softmax = ss["w_train_loss"] == "Full softmax"
        c = st.columns(2)
        c[0].slider("Negatives", 1, 25, key="w_train_negative", persist_state="session", disabled=softmax,
                    help="Random 'wrong' words each true word is contrasted with (negative sampling only).")

    with st.container(border=True):
        st.markdown("##### :material/tune: Training")
        c = st.columns(2)
        c[0].slider("Epochs", 1, 50, key="w_train_epochs", persist_state="session", help="Passes over the corpus.")
        c[1].select_slider("Learning rate", LR_CHOICES, key="w_train_lr", persist_state="session",
                           format_func=lambda x: "auto" if x == "auto" else f"{x:g}",
                           help="Starting step size, decayed linearly to ~0. auto = word2vec's default "
                                "(0.025 Skip-gram, 0.05 CBOW). Too high diverges; too low learns slowly.")
        c = st.columns(2)
        c[0].select_slider("Batch size", BATCH_CHOICES, key="w_train_batch", persist_state="session",
                           format_func=lambda x: "auto" if x == "auto" else f"{x:,}",
                           help="Centre words updated together: larger is faster per word, each update coarser.")
        c[1].number_input("Seed", 0, 2**31 - 1, key="w_train_seed", persist_state="session", step=1,
                          help="Same seed and settings give the same model (with one training thread).")
        st.text_input("Model name (optional)", key="w_train_name", persist_state="session",
                      placeholder="e.g. sg-window5",
                      help="Folder name under the models directory; left empty, a name is made from the settings.")


def build_configs() -> tuple[ModelConfig, TrainConfig]:
    """The knobs as validated configs (W2VError says which knob to change)."""
    mc = ModelConfig(
        arch="skipgram" if ss["w_train_arch"] == "Skip-gram" else "cbow",
        loss="softmax" if ss["w_train_loss"] == "Full softmax" else "negative",
        dim=int(ss["w_train_dim"]), window=int(ss["w_train_window"]), negative=int(ss["w_train_negative"]),
        min_count=int(ss["w_train_min_count"]), sample=float(ss["w_train_sample"]))
    lr, batch = ss["w_train_lr"], ss["w_train_batch"]
    tc = TrainConfig(epochs=int(ss["w_train_epochs"]), lr=None if lr == "auto" else float(lr),
                     batch_size=None if batch == "auto" else int(batch), seed=int(ss["w_train_seed"]),
                     report_every=0.1)  # a point on the live chart every 0.1 s
    mc.validate()
    tc.validate()
    return mc, tc


if softmax:
    left.warning(f"Full softmax costs time in proportion to the vocabulary: keep the corpus small or the min count "
               f"high (above ~{SOFTMAX_WARN_VOCAB:,} words it gets very slow).", icon=":material/speed:")

start = left.button("Train", type="primary", icon=":material/play_arrow:", disabled=active, key="btn_train",
                   help="Runs in the background: you can use other pages meanwhile." if not active else
                   "A run is going on; stop it to start another.", width="stretch")

if start and not active:
    try:
        if corpus_config is None:
            raise W2VError("Choose a corpus first (and upload or point to a file if you chose your own text).")
        corpus_config.validate()
        mc, tc = build_configs()
        job = TrainingJob(corpus_config, mc, tc, name=ss["w_train_name"].strip() or None).start()
        _ui.remember_job(job)  # this session's run, and its id in the URL: a refreshed tab finds it again
        active = True
        st.rerun()
    except W2VError as e:
        with left:
            _ui.show_error(e)


# ---------------------------------------------------------------------------------------------- live view


def _fmt_eta(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


def loss_figure(state) -> go.Figure:
    """Loss per report (faint), its moving average (bold) and the per-epoch mean (markers), against epochs."""
    fig = go.Figure()
    xs = [b["x"] for b in state.batch_losses]
    if xs:
        fig.add_trace(go.Scatter(x=xs, y=[b["loss"] for b in state.batch_losses], mode="lines", name="loss per report",
                                 line=dict(width=1, color="rgba(99,110,250,0.35)")))
        # a centred moving average: it follows the curve without the lag of an exponential average
        raw = pd.Series([b["loss"] for b in state.batch_losses])
        smooth = raw.rolling(max(3, len(raw) // 15) | 1, center=True, min_periods=1).mean()
        fig.add_trace(go.Scatter(x=xs, y=smooth, mode="lines", name="smoothed", line=dict(width=2.5, color="#636efa")))
    if state.epoch_losses:
        fig.add_trace(go.Scatter(x=[e["epoch"] for e in state.epoch_losses], y=[e["loss"] for e in state.epoch_losses],
                                 mode="lines+markers", name="epoch mean", marker=dict(size=9, color="#ef553b"),
                                 line=dict(dash="dot", color="#ef553b")))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="epoch", yaxis_title="loss",
                      legend=dict(orientation="h", y=1.12, x=0), hovermode="x unified")
    fig.update_xaxes(range=[0, max(state.epochs, 1)])
    ys = [b["loss"] for b in state.batch_losses] + [e["loss"] for e in state.epoch_losses]
    if ys and min(ys) > 0 and max(ys) / min(ys) > 100:  # a diverging run: a log scale keeps the curve readable
        fig.update_yaxes(type="log")
    return fig


def divergence_warning(job: TrainingJob, s) -> str | None:
    """A finished run whose loss grew, or ended far above where an untrained model starts: say what to change."""
    ep = [e["loss"] for e in s.epoch_losses]
    if not ep:
        return None
    mc = job.model_config
    vocab = int(s.info.get("vocab_size") or 2)
    start = math.log(max(vocab, 2)) if mc.loss == "softmax" else (mc.negative + 1) * math.log(2)  # random guessing
    lr = s.info.get("lr", job.train_config.lr)
    if ep[-1] > 3 * start or (len(ep) > 1 and ep[-1] > ep[0] * 1.05):
        return (f"The loss went up or stayed far above where training starts (last epoch {ep[-1]:.4g}, untrained "
                f"≈ {start:.2f}): the learning rate ({lr:g}) is probably too high. Train again with a lower one "
                "(or 'auto').")
    return None


def live_view() -> None:
    job: TrainingJob | None = ss.get("train_job")
    if job is None:
        st.info("Nothing has been trained in this session yet. The defaults train in seconds: press **Train**.",
                icon=":material/lightbulb:")
        return
    s = job.snapshot()
    if _ui.finish_job_if_done():
        st.rerun()  # a full run: the page stops polling and every widget sees the new model

    title = {"pending": "Starting ...", "loading": "Loading the corpus ...", "running": "Training ...",
             "saving": "Saving ...", "done": "Finished", "stopped": "Stopped", "failed": "Failed"}[s.status]
    st.subheader(title)
    if s.status == "failed":
        _ui.show_error(s.error or "Training failed.")
        st.caption("Change the setting the message names and press **Train** again.")
        return
    if s.active:
        frac = min(max(s.fraction, 0.0), 1.0)
        text = (f"epoch {max(s.epoch, 1)}/{s.epochs} · {frac:.0%} · {s.words_per_sec:,.0f} words/s · "
                f"ETA {_fmt_eta(s.eta)}" if s.status == "running" and s.words_done else s.message)
        st.progress(frac, text=text)
        if job.stop_requested:
            st.caption("Stopping after the current batch ...")
        else:
            st.button("Stop", icon=":material/stop:", key="btn_stop", on_click=job.stop,
                      help="Stop now; what was learnt so far is saved.")
    c = st.columns(5)
    final = s.summary.get("final_loss") if not s.active else None
    if isinstance(final, (int, float)):
        c[0].metric("Final loss", f"{final:.4f}", help="Mean loss of the last epoch.")
    else:
        c[0].metric("Loss", f"{s.smoothed_loss:.4f}" if s.smoothed_loss is not None else "-",
                    help="Moving average of the loss per training example.")
    c[1].metric("Epoch", f"{min(max(s.epoch, 1), max(s.epochs, 1))}/{s.epochs}" if s.epoch else "-")
    c[2].metric("Words/s", f"{s.words_per_sec:,.0f}" if s.words_per_sec else "-")
    c[3].metric("Vocabulary", f"{s.info['vocab_size']:,}" if "vocab_size" in s.info else "-")
    c[4].metric("Time", f"{s.elapsed:.1f} s" if s.elapsed else "-")
    if s.corpus:
        st.caption(f"Corpus: {s.corpus['name']} · {s.corpus['tokens']:,} tokens · {s.corpus['documents']:,} "
                   f"documents · {s.corpus['distinct_words']:,} distinct words")
    if s.batch_losses or s.epoch_losses:
        st.plotly_chart(loss_figure(s), key="loss_chart", config={"displayModeBar": False})
    if s.status in ("done", "stopped"):
        warning = divergence_warning(job, s)
        if warning:
            st.warning(warning, icon=":material/trending_up:")
        if s.path:
            st.success(f"{s.message}: **{s.path.rsplit('/', 1)[-1]}** is now the current model.",
                       icon=":material/check_circle:")
            try:
                _ui.model_card(_ui.load_model(s.path))
            except W2VError as e:
                _ui.show_error(e)
            c = st.columns(3)
            _ui.link("map", "Open the map", ":material/scatter_plot:", c[0])
            _ui.link("neighbours", "Ask for neighbours", ":material/hub:", c[1])
            _ui.link("models", "Manage models", ":material/inventory_2:", c[2])
        else:
            st.info(s.message, icon=":material/info:")


with right.container(key="train_live"):  # sticky (assets/style.css): stays in view while the knobs scroll
    st.fragment(live_view, run_every=0.75 if active else None)()
