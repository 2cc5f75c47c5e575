"""Train: choose a corpus and the knobs, start a background run, watch the loss fall, stop it any time."""

from __future__ import annotations

import math

import streamlit as st

from ui import cards, charts, map_learn, shell
from ui.corpus_picker import SIZES, SOURCES, corpus_picker
from ui.job import REATTACHED, current_job, finish_job_if_done, remember_job
from ui.session import load_model
from ui.widgets import PERSIST, default, md_escape, show_error
from w2v_core import store
from w2v_core.errors import W2VError
from w2v_core.jobs import TrainingJob
from w2v_core.models import SOFTMAX_WARN_VOCAB, ModelConfig
from w2v_core.training import DEFAULT_LR, TrainConfig, untrained_loss

shell.require_app()

ss = st.session_state
LR_CHOICES = ["auto", 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5]
BATCH_CHOICES = ["auto", 16, 64, 256, 1024, 4096, 16384]
DIM_CHOICES = [10, 25, 50, 64, 100, 150, 200, 300]
SAMPLE_CHOICES = [0.0, 1e-5, 1e-4, 1e-3, 1e-2]

DEFAULTS = {
    "train_arch": "Skip-gram", "train_loss": "Negative sampling", "train_window": 5, "train_dim": 100,
    "train_epochs": 5, "train_lr": "auto", "train_min_count": 5, "train_sample": 1e-3,
    "train_negative": 5, "train_batch": "auto", "train_seed": 1, "train_name": "",
}


def restore_knobs(job: TrainingJob) -> None:
    """After a refresh reattached this tab to its run, show the knobs that run was started with (not defaults)."""
    mc, tc, cc = job.model_config, job.train_config, job.corpus_config
    knobs = {"train_arch": "Skip-gram" if mc.arch == "skipgram" else "CBOW",
             "train_loss": "Full softmax" if mc.loss == "softmax" else "Negative sampling",
             "train_window": mc.window, "train_dim": mc.dim, "train_min_count": mc.min_count,
             "train_sample": mc.sample, "train_negative": mc.negative, "train_epochs": tc.epochs,
             "train_lr": "auto" if tc.lr is None else tc.lr, "train_batch": "auto" if tc.batch_size is None
             else tc.batch_size, "train_seed": tc.seed, "train_name": job.name or ""}
    choices = {"train_dim": DIM_CHOICES, "train_sample": SAMPLE_CHOICES, "train_lr": LR_CHOICES,
               "train_batch": BATCH_CHOICES}
    for k, v in knobs.items():
        if k not in choices or v in choices[k]:  # a value no widget offers keeps the widget's own
            ss[k] = v
    if cc is not None and cc.source in SOURCES:  # a bundled/WikiText corpus (uploads and paths are files)
        ss["train_source"] = cc.source
        ss["train_split"] = cc.split
        if (cc.max_tokens or 0) in SIZES:
            ss["train_size"] = cc.max_tokens or 0
        for k in ("lowercase", "keep_numbers", "keep_punct", "min_token_len", "keep_unk", "pretokenized"):
            ss[f"train_{k}"] = getattr(cc, k)


if ss.pop(REATTACHED, False) and current_job() is not None:
    restore_knobs(current_job())
for k, v in DEFAULTS.items():
    default(k, v)

st.title(":material/model_training: Train")
st.caption("Pick a corpus and the knobs, press **Train**, and watch the loss fall. The run goes on in the "
           "background while you look at other pages; when it ends the model is saved and becomes the current one.")


# ---------------------------------------------------------------------------------------------- settings


job = current_job()
active = job is not None and job.snapshot().active

left, right = st.columns([5, 7], gap="large")

with left:
    with st.container(border=True):
        st.markdown("##### :material/library_books: Corpus")
        corpus_config = corpus_picker("train")

    with st.container(border=True):
        st.markdown("##### :material/neurology: Model")
        c = st.columns(2)
        c[0].radio("Architecture", ["Skip-gram", "CBOW"], key="train_arch", persist_state=PERSIST,
                   help="Skip-gram predicts each context word from the centre word; CBOW predicts the centre word "
                        "from the average of its context.")
        c[1].radio("Output layer", ["Negative sampling", "Full softmax"], key="train_loss", persist_state=PERSIST,
                   help="Negative sampling scores the true word against a few random ones (fast); full softmax "
                        "scores every word in the vocabulary (exact, slow on large vocabularies).")
        c = st.columns(2)
        c[0].slider("Window", 1, 15, key="train_window", persist_state=PERSIST,
                    help="How many words on each side count as context (the actual radius is drawn from 1..window).")
        c[1].select_slider("Dimension", DIM_CHOICES, key="train_dim", persist_state=PERSIST,
                           help="Length of each word vector: more can hold more, but needs more text and time.")
        c = st.columns(2)
        c[0].number_input("Min count", 1, 1000, key="train_min_count", persist_state=PERSIST, step=1,
                          help="Words seen fewer times than this are dropped from the vocabulary.")
        c[1].select_slider("Subsampling", SAMPLE_CHOICES, key="train_sample", persist_state=PERSIST,
                           format_func=lambda x: "off" if x == 0 else f"{x:g}",
                           help="Randomly skips very frequent words (the, of, ...) so rarer words get more updates.")
        softmax = ss["train_loss"] == "Full softmax"
        c = st.columns(2)
        c[0].slider("Negatives", 1, 25, key="train_negative", persist_state=PERSIST, disabled=softmax,
                    help="Random 'wrong' words each true word is contrasted with (negative sampling only).")

    with st.container(border=True):
        st.markdown("##### :material/tune: Training")
        c = st.columns(2)
        c[0].slider("Epochs", 1, 50, key="train_epochs", persist_state=PERSIST, help="Passes over the corpus.")
        c[1].select_slider("Learning rate", LR_CHOICES, key="train_lr", persist_state=PERSIST,
                           format_func=lambda x: "auto" if x == "auto" else f"{x:g}",
                           help="Starting step size, decayed linearly to ~0. auto = word2vec's default "
                                f"({DEFAULT_LR['skipgram']:g} Skip-gram, {DEFAULT_LR['cbow']:g} CBOW). Too high "
                                "diverges; too low learns slowly.")
        c = st.columns(2)
        c[0].select_slider("Batch size", BATCH_CHOICES, key="train_batch", persist_state=PERSIST,
                           format_func=lambda x: "auto" if x == "auto" else f"{x:,}",
                           help="Centre words updated together: larger is faster per word, each update coarser.")
        c[1].number_input("Seed", 0, 2**31 - 1, key="train_seed", persist_state=PERSIST, step=1,
                          help="Same seed and settings give the same model (with one training thread).")
        st.text_input("Model name (optional)", key="train_name", persist_state=PERSIST,
                      placeholder="e.g. sg-window5",
                      help="Folder name under the models directory; left empty, a name is made from the settings.")


def build_configs() -> tuple[ModelConfig, TrainConfig]:
    """The knobs as validated configs (W2VError says which knob to change)."""
    mc = ModelConfig(
        arch="skipgram" if ss["train_arch"] == "Skip-gram" else "cbow",
        loss="softmax" if ss["train_loss"] == "Full softmax" else "negative",
        dim=int(ss["train_dim"]), window=int(ss["train_window"]), negative=int(ss["train_negative"]),
        min_count=int(ss["train_min_count"]), sample=float(ss["train_sample"]))
    lr, batch = ss["train_lr"], ss["train_batch"]
    tc = TrainConfig(epochs=int(ss["train_epochs"]), lr=None if lr == "auto" else float(lr),
                     batch_size=None if batch == "auto" else int(batch), seed=int(ss["train_seed"]),
                     report_every=0.1)  # a point on the live chart every 0.1 s
    mc.validate()
    tc.validate()
    return mc, tc


if softmax:
    left.warning(f"Full softmax costs time in proportion to the vocabulary: keep the corpus small or the min count "
               f"high (above ~{SOFTMAX_WARN_VOCAB:,} words it gets very slow).", icon=":material/speed:")

start = left.button("Train", type="primary", icon=":material/play_arrow:", disabled=active, key="train_start",
                   help="Runs in the background: you can use other pages meanwhile." if not active else
                   "A run is going on; stop it to start another.", width="stretch")

if start and not active:
    try:
        if corpus_config is None:
            raise W2VError("Choose a corpus first (and upload or point to a file if you chose your own text).")
        corpus_config.validate()
        mc, tc = build_configs()
        job = TrainingJob(corpus_config, mc, tc, name=ss["train_name"].strip() or None).start()
        remember_job(job)  # this session's run, and its id in the URL: a refreshed tab finds it again
        active = True
        st.rerun()
    except W2VError as e:
        with left:
            show_error(e)


# ---------------------------------------------------------------------------------------------- live view


def _fmt_eta(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


def divergence_warning(job: TrainingJob, s) -> str | None:
    """A finished run whose loss grew, or ended far above where an untrained model starts: say what to change."""
    ep = [e["loss"] for e in s.epoch_losses]
    if not ep:
        return None
    start = untrained_loss(job.model_config, int(s.info.get("vocab_size") or 2))
    lr = s.info.get("lr", job.train_config.lr)
    if ep[-1] > 3 * start or (len(ep) > 1 and ep[-1] > ep[0] * 1.05):
        return (f"The loss went up or stayed far above where training starts (last epoch {ep[-1]:.4g}, untrained "
                f"≈ {start:.2f}): the learning rate ({lr:g}) is probably too high. Train again with a lower one "
                "(or 'auto').")
    return None


def live_view() -> None:
    job = current_job()
    if job is None:
        st.info("Nothing has been trained in this session yet. The defaults train in seconds: press **Train**.",
                icon=":material/lightbulb:")
        return
    s = job.snapshot()
    if finish_job_if_done():
        st.rerun()  # a full run: the page stops polling and every widget sees the new model

    title = {"pending": "Starting ...", "loading": "Loading the corpus ...", "running": "Training ...",
             "saving": "Saving ...", "done": "Finished", "stopped": "Stopped", "failed": "Failed"}[s.status]
    st.subheader(title)
    if s.status == "failed":
        show_error(s.error or "Training failed.")
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
            st.button("Stop", icon=":material/stop:", key="train_stop", on_click=job.stop,
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
        st.plotly_chart(charts.loss_figure(s), key="train_loss_chart", config={"displayModeBar": False})
    if s.status == "running":
        map_learn.live_map(job)  # the top words as they are now
    if s.status in ("done", "stopped"):
        warning = divergence_warning(job, s)
        if warning:
            st.warning(warning, icon=":material/trending_up:")
        if s.path:
            st.success(f"{s.message}: **{md_escape(s.path.rsplit('/', 1)[-1])}** is now the current model.",
                       icon=":material/check_circle:")
            try:
                load_model(s.path)  # a damaged save says so here
                cards.model_card(store.read_record(s.path))
            except W2VError as e:
                show_error(e)
            c = st.columns(3)
            shell.link("map", "Open the map", ":material/scatter_plot:", c[0])
            shell.link("neighbours", "Ask for neighbours", ":material/hub:", c[1])
            shell.link("models", "Manage models", ":material/inventory_2:", c[2])
        else:
            st.info(s.message, icon=":material/info:")


with right.container(key="train_live"):  # sticky (assets/style.css): stays in view while the knobs scroll
    st.fragment(live_view, run_every=0.75 if active else None)()
