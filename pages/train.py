"""Train: press Train (the first values make a good first model), watch the loss fall, stop it any time.

The start button and the live view come first (on a phone they sit above the settings), the settings beside them
in three tabs. The corpus and its min count are the Corpus page's own widgets, so both pages show one choice.
"""

from __future__ import annotations

import streamlit as st

from ui import continue_view, session, shell, train_view
from ui.cards import ARCH as ARCH_LABEL
from ui.corpus_picker import ALL, MIN_COUNT, SIZES, SOURCES, corpus_picker, fmt_size, min_count_control
from ui.job import REATTACHED, current_job, remember_job
from ui.widgets import PERSIST, default, guarded, show_error
from w2v_core import showcase, subwords
from w2v_core.errors import W2VError
from w2v_core.models import SOFTMAX_WARN_VOCAB, ModelConfig
from w2v_core.serve.jobs import TrainingJob
from w2v_core.training import DEFAULT_LR, TrainConfig

shell.require_app()

ss = st.session_state
KEY = "corpus"  # the corpus picker's keys: the same widgets as on the Corpus page
LR_CHOICES = ["auto", 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5]
BATCH_CHOICES = ["auto", 16, 64, 256, 1024, 4096, 16384]
UPDATES = ["Bounded", "Plain sum (word2vec)"]
DIM_CHOICES = [10, 25, 50, 64, 100, 150, 200, 300]
SAMPLE_CHOICES = [0.0, 1e-5, 1e-4, 1e-3, 1e-2]
BUCKET_CHOICES = [20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000]
LOSS_LABEL = {"negative": "Negative sampling", "softmax": "Full softmax", "hs": "Hierarchical softmax"}
LOSS_OF = {v: k for k, v in LOSS_LABEL.items()}
OWN_TEXT = {"upload": "your uploaded file", "paste": "your pasted text", "path": "your local file"}

FIRST = showcase.FIRST_RUN  # a first model that answers the app's own examples sensibly
DEFAULTS = {
    "train_arch": ARCH_LABEL[FIRST["arch"]], "train_loss": LOSS_LABEL[FIRST["loss"]], "train_window": FIRST["window"],
    "train_dim": FIRST["dim"], "train_epochs": FIRST["epochs"], "train_lr": "auto", MIN_COUNT: FIRST["min_count"],
    "train_sample": FIRST["sample"], "train_negative": FIRST["negative"], "train_batch": "auto", "train_seed": 1,
    "train_name": "", "train_update": UPDATES[0], "train_subwords": False, "train_ngrams": (3, 6),
    "train_buckets": subwords.APP_BUCKETS,
}


FIRST_CORPUS = {f"{KEY}_source": "sample", f"{KEY}_size": ALL,
                f"{KEY}_lowercase": True, f"{KEY}_keep_numbers": False, f"{KEY}_keep_punct": False,
                f"{KEY}_min_token_len": 1, f"{KEY}_keep_unk": False, f"{KEY}_pretokenized": False}


def restore_knobs(job: TrainingJob) -> None:
    """After a refresh reattached this tab to its run, show the knobs that run was started with (not defaults)."""
    mc, tc, cc = job.model_config, job.train_config, job.corpus_config
    knobs = {"train_arch": ARCH_LABEL[mc.arch], "train_loss": LOSS_LABEL[mc.loss],
             "train_window": mc.window, "train_dim": mc.dim, MIN_COUNT: min(mc.min_count, 100),
             "train_sample": mc.sample, "train_negative": mc.negative, "train_epochs": tc.epochs,
             "train_lr": "auto" if tc.lr is None else tc.lr, "train_batch": "auto" if tc.batch_size is None
             else tc.batch_size, "train_seed": tc.seed, "train_name": job.name or "",
             "train_update": UPDATES[tc.update == "sum"], "train_subwords": mc.subwords,
             "train_ngrams": (mc.min_n, mc.max_n), "train_buckets": mc.buckets}
    choices = {"train_dim": DIM_CHOICES, "train_sample": SAMPLE_CHOICES, "train_lr": LR_CHOICES,
               "train_batch": BATCH_CHOICES, "train_buckets": BUCKET_CHOICES}
    knobs[continue_view.INIT_KEY] = str(job.parent or continue_view.FRESH)
    for k, v in knobs.items():
        if k not in choices or v in choices[k]:  # a value no widget offers keeps the widget's own
            ss[k] = v
    if cc is not None and cc.source in SOURCES:  # a bundled/WikiText corpus (uploads and paths are files)
        ss[f"{KEY}_source"] = cc.source
        ss[f"{KEY}_split"] = cc.split
        if (cc.max_tokens or 0) in SIZES:
            ss[f"{KEY}_size"] = cc.max_tokens or 0
        for k in ("lowercase", "keep_numbers", "keep_punct", "min_token_len", "keep_unk", "pretokenized"):
            ss[f"{KEY}_{k}"] = getattr(cc, k)


if ss.pop(REATTACHED, False) and current_job() is not None:
    restore_knobs(current_job())
for k, v in DEFAULTS.items():
    default(k, v)

st.title(":material/model_training: Train")
job = current_job()
active = job is not None and job.state().active

# the live view first: on a phone the columns stack, and the run must not hide below the settings
live, knobs = st.columns([7, 5], gap="large")

# ---------------------------------------------------------------------------------------------- settings

def subword_settings(off: bool) -> None:
    """fastText's subword vectors: on/off, the n-gram lengths and the buckets, with what the table costs."""
    st.checkbox("Subword vectors (fastText)", key="train_subwords", persist_state=PERSIST, disabled=off,
                help="Each word's vector is the mean of its own vector and those of its character n-grams (<ci, cit, "
                     "city, ... with < > marking the word's ends), so words the corpus never had (misspellings, rare "
                     "forms) get a vector built from their pieces. Negative sampling only. Costs: every example "
                     "updates ~10-20 rows instead of one (slower, CBOW most), and the n-gram table's memory.")
    if not ss["train_subwords"] or off:
        return
    c = st.columns(2)
    c[0].slider("N-gram lengths", 1, 10, key="train_ngrams", persist_state=PERSIST,
                help="The shortest and longest pieces, in characters (fastText's 3 to 6).")
    dim = parent.dim if parent is not None else int(ss["train_dim"])
    c[1].select_slider("N-gram buckets", BUCKET_CHOICES, key="train_buckets", persist_state=PERSIST,
                       format_func=lambda b: f"{b:,}",
                       help="N-grams are hashed into this many rows (two may share one). The table takes buckets x "
                            "dimension x 4 bytes: 200,000 x 100 is 80 MB; fastText's 2,000,000 is 800 MB, in memory "
                            "and in the saved model.")
    st.caption(f"N-gram table: {ss['train_buckets']:,} buckets x {dim} dimensions x 4 bytes = "
               f"{subwords.table_bytes(ss['train_buckets'], dim) / 1e6:,.0f} MB.")


with knobs:
    st.markdown("##### :material/tune: Settings")
    parent = continue_view.start_from(DIM_CHOICES)  # before the model widgets: it sets the parent's settings
    fixed = continue_view.locked(parent)
    t_corpus, t_model, t_train = st.tabs(["Corpus", "Model", "Training"])
    with t_corpus:
        corpus_config = corpus_picker(KEY)
        min_count_control()
        shell.link("corpus", "Look at this corpus", ":material/library_books:")
    with t_model:
        c = st.columns(2)
        c[0].radio("Architecture", ["Skip-gram", "CBOW"], key="train_arch", persist_state=PERSIST,
                   disabled=fixed["arch"],
                   help="Skip-gram predicts each context word from the centre word; CBOW predicts the centre word "
                        "from the average of its context.")
        c[1].radio("Output layer", list(LOSS_LABEL.values()), key="train_loss", persist_state=PERSIST,
                   disabled=fixed["arch"],
                   help="Negative sampling scores the true word against a few random ones (fast); full softmax "
                        "scores every word in the vocabulary (exact, slow on large vocabularies); hierarchical "
                        "softmax (word2vec's -hs 1) walks the true word down a Huffman tree of the words, one "
                        "yes/no sigmoid per branch: exact probabilities at about log2(V) scores per example (about "
                        "12 for 10,000 words, fewer for frequent words), often better for rare words, and about as "
                        "fast as negative sampling with 10 negatives.")
        c = st.columns(2)
        c[0].slider("Window", 1, 15, key="train_window", persist_state=PERSIST,
                    help="How many words on each side count as context (the actual radius is drawn from 1..window).")
        c[1].select_slider("Dimension", DIM_CHOICES, key="train_dim", persist_state=PERSIST, disabled=fixed["dim"],
                           help="Length of each word vector: more can hold more, but needs more text and time.")
        softmax = ss["train_loss"] != "Negative sampling"
        c = st.columns(2)
        c[0].slider("Negatives", 1, 25, key="train_negative", persist_state=PERSIST, disabled=softmax,
                    help="Random 'wrong' words each true word is contrasted with (negative sampling only).")
        c[1].select_slider("Subsampling", SAMPLE_CHOICES, key="train_sample", persist_state=PERSIST,
                           format_func=lambda x: "off" if x == 0 else f"{x:g}",
                           help="Randomly skips very frequent words (the, of, ...) so rarer words get more updates.")
        subword_settings(softmax or fixed["arch"])
    with t_train:
        c = st.columns(2)
        c[0].slider("Epochs", 1, 50, key="train_epochs", persist_state=PERSIST,
                    help="Passes over the corpus. A small corpus needs more of them.")
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
        st.radio("Update", UPDATES, key="train_update", persist_state=PERSIST, horizontal=True,
                 help="A batch adds up the steps of all its examples, computed from the same old weights. Bounded "
                      "limits how far one word's vector moves per batch, so big batches and many threads stay "
                      "stable. Plain sum is word2vec's own step: try it with a big batch or a high rate to see "
                      "training blow up.")
        st.text_input("Model name (optional)", key="train_name", persist_state=PERSIST,
                      placeholder="e.g. sg-window5",
                      help="Folder name under the models directory; left empty, a name is made from the settings.")
    st.button("Back to the first values", icon=":material/restart_alt:", key="train_reset", disabled=active,
              on_click=ss.update, args=({**DEFAULTS, **FIRST_CORPUS},),  # a callback: before the widgets are drawn
              help="The settings a first model starts from, on the bundled Wikipedia sample.")


def build_configs() -> tuple[ModelConfig, TrainConfig]:
    """The knobs as validated configs (W2VError says which knob to change)."""
    mc = ModelConfig(
        arch="skipgram" if ss["train_arch"] == "Skip-gram" else "cbow",
        loss=LOSS_OF.get(ss["train_loss"], "negative"),
        dim=parent.dim if parent is not None else int(ss["train_dim"]), window=int(ss["train_window"]),
        negative=int(ss["train_negative"]),
        min_count=int(ss[MIN_COUNT]), sample=float(ss["train_sample"]),
        subwords=bool(ss["train_subwords"]) and ss["train_loss"] == LOSS_LABEL["negative"],
        min_n=int(ss["train_ngrams"][0]), max_n=int(ss["train_ngrams"][1]), buckets=int(ss["train_buckets"]))
    lr, batch = ss["train_lr"], ss["train_batch"]
    tc = TrainConfig(epochs=int(ss["train_epochs"]), lr=None if lr == "auto" else float(lr),
                     batch_size=None if batch == "auto" else int(batch), seed=int(ss["train_seed"]),
                     update="sum" if ss["train_update"] == UPDATES[1] else "bounded",
                     report_every=0.1)  # a point on the live chart every 0.1 s
    mc.validate()
    tc.validate()
    return mc, tc


# ---------------------------------------------------------------------------------------------- start + live view

with live:
    size = ss.get(f"{KEY}_size")
    src = ss.get(f"{KEY}_source")
    corpus_name = OWN_TEXT.get(src) or SOURCES.get(src, "").split(" · ")[0]
    st.caption(f"**{ss['train_arch']}**, {ss['train_dim']} dimensions, window {ss['train_window']}, "
               f"{ss['train_epochs']} epochs, min count {ss[MIN_COUNT]}, on {corpus_name} "
               f"({f'{fmt_size(size)} tokens' if size else 'the whole corpus'}). Change any of it under *Settings*.")
    if not active and parent is None:  # a continued model has had its passes already
        train_view.short_run_warning(corpus_config, int(ss["train_epochs"]))
    if softmax:
        st.warning(f"Full softmax costs time in proportion to the vocabulary: keep the corpus small or the min count "
                   f"high (above ~{SOFTMAX_WARN_VOCAB:,} words it gets very slow).", icon=":material/speed:")
    start = st.button("Train", type="primary", icon=":material/play_arrow:", disabled=active, key="train_start",
                      help="Runs in the background: you can use other pages meanwhile." if not active else
                      "A run is going on; stop it to start another.", width="stretch")
    if start and not active and continue_view.lost_parent():
        start = False  # the parent chosen has gone: the warning above says so, and nothing trains from random vectors
    if start and not active:
        try:
            if corpus_config is None:
                raise W2VError("Choose a corpus first (and upload or point to a file if you chose your own text).")
            corpus_config.validate()
            mc, tc = build_configs()
            name = ss["train_name"].strip() or (continue_view.child_name(parent, corpus_config.source, tc.epochs)
                                                 if parent is not None else None)
            job = TrainingJob(corpus_config, mc, tc, name=name, root=session.models_root(),
                              uploads=session.uploads_folder(), parent=parent and str(parent.path)).start()
            ss[train_view.PREVIOUS] = session.current_path()  # what "keep the previous model" goes back to
            remember_job(job)  # this session's run, and its id in the URL: a refreshed tab finds it again
            active = True
            st.rerun()
        except W2VError as e:
            show_error(e)
    if active:  # our Stop button is the one that stops the run: Streamlit's own (it stops a page run) would confuse
        st.html("<style>[data-testid='stStatusWidget'] button { display: none; }</style>")
    with st.container(key="train_live"):
        if active:  # the progress every second, the charts less often (their drawing costs the run CPU)
            st.fragment(guarded(train_view.live_status), run_every=train_view.STATUS_EVERY)()
            st.fragment(guarded(train_view.live_charts), run_every=train_view.CHARTS_EVERY)()
        else:
            st.fragment(guarded(train_view.live_view))()
