"""The corpus picker: one Streamlit widget that returns a ``CorpusConfig``, shared by the Corpus and Train pages.

    from ui.corpus_picker import corpus_picker, load_corpus_cached

    config = corpus_picker("train")          # None until the user has given a file / text / path
    if config is not None:
        corpus = load_corpus_cached(config)  # W2VError (hub.HubUnavailable for the Hub) on a user-fixable problem

Widget keys start with ``f"{key}_"``, so two pickers never clash. Uploads and pasted text are saved under
the corpus cache folder and named by path in the config, so a training run (or the CLI) can load them again.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import threading
import time
from pathlib import Path

import streamlit as st

from ui import corpus_text, session
from ui.widgets import PERSIST, default, md_escape, show_error
from w2v_core import settings, showcase
from w2v_core.data import corpus_cache, hub, sources
from w2v_core.data.corpus import BUILTIN, SPLITS, WIKITEXT, Corpus, CorpusConfig, CorpusStats, corpus_stats
from w2v_core.data.loader import load_corpus
from w2v_core.errors import W2VError
from w2v_core.serve import quota

log = logging.getLogger(__name__)

SOURCES = {
    "sample": "Wikipedia sample · bundled, offline (~465k tokens)",
    "lee": "Lee news corpus · bundled, tiny (~60k tokens)",
    "wikitext-2": "WikiText-2 · Hugging Face (~2M tokens)",
    "wikitext-103": "WikiText-103 · Hugging Face (~100M tokens)",
    "upload": "Upload a file (.txt .csv .jsonl .parquet)",
    "paste": "Paste text",
    "path": "Local file or saved dataset folder",
}
ALL = 0  # "the whole corpus" on the size slider
SIZES = [5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000,
         10_000_000, 20_000_000, 50_000_000, ALL]


MIN_COUNT = "corpus_min_count"  # one min count for the Corpus and Train pages (it decides the vocabulary)


def fmt_size(n: int) -> str:
    if n == ALL:
        return "whole corpus"
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1_000}k"


@st.cache_data(show_spinner=False, max_entries=32)
def _text_columns(path: str, stamp: str) -> list[str]:
    """Text columns of a dataset file/folder ([] for plain text or unreadable files: loading will say why)."""
    try:
        p = Path(path).expanduser()
        if p.is_file() and p.suffix.lower() not in sources.DATASET_FORMATS:
            return []
        return sources.dataset_text_columns(p)
    except W2VError:
        return []


def _saved_upload(key: str, uploaded) -> str:
    """Save an uploaded file once per upload (hashing 200 MB on every rerun would be slow)."""
    memo = st.session_state.get(f"{key}_saved_upload")
    if memo and memo[0] == uploaded.file_id:
        return memo[1]
    folder = session.uploads_folder()
    path = str(quota.save_upload(uploaded.getvalue(), uploaded.name, folder))  # room made first, within the quota
    st.session_state[f"{key}_saved_upload"] = (uploaded.file_id, path, uploaded.name)
    return path


def _saved_paste(text: str) -> str | None:
    """Pasted text saved like an upload, counted against the uploads quota before it is written (None: refused)."""
    try:
        return str(quota.save_pasted_text(text, session.uploads_folder()))
    except W2VError as e:
        show_error(e)
        return None


def _upload_changed(key: str) -> None:
    """The user removed the uploaded file: forget it (coming back from another page keeps it, see below)."""
    if st.session_state.get(f"{key}_upload") is None:
        st.session_state.pop(f"{key}_saved_upload", None)


def _server_files() -> dict[str, str] | None:
    """Shared mode: the files a visitor may pick by name, {name: resolved path} from the operator's corpus folder.

    None in personal mode, where a path box takes any local path (the user's own machine).
    """
    s = settings.get_settings()
    if not s.shared:
        return None
    if s.corpus_dir is None or not s.corpus_dir.is_dir():
        return {}
    out = {}
    for p in sorted(s.corpus_dir.iterdir())[:500]:
        if not p.name.startswith("."):
            try:
                out[p.name] = str(settings.allowed_corpus_path(p.name, s))
            except W2VError:
                continue  # a link that leads out of the folder
    return out


def _source_widgets(key: str, src: str, server_files: dict[str, str] | None) -> tuple[str | None, str, bool]:
    """The widgets of the chosen source: (the source to read or None until complete, the split, False on an error
    already shown)."""
    source: str | None = None
    split = "train"
    if src in BUILTIN or src in WIKITEXT:
        source = src
    if src in WIKITEXT:
        split = st.selectbox("Split", SPLITS, key=f"{key}_split", persist_state=PERSIST,
                             help="WikiText's train split is the big one.")
        if src == "wikitext-103":
            st.caption("WikiText-103 has ~100M tokens: pick a corpus size below unless you have time to spare.")
    elif src == "upload":
        up = st.file_uploader("Corpus file", type=list(sources.UPLOAD_TYPES), key=f"{key}_upload",
                              on_change=_upload_changed, args=(key,),
                              help="Text: one document a line. CSV/JSON lines/Parquet: one document a row. Max 200 MB.")
        if up is not None:
            try:
                source = _saved_upload(key, up)
            except W2VError as e:
                show_error(e)
                return None, split, False
        else:
            # an upload widget comes back empty after a visit to another page; the file was saved, so keep it
            memo = st.session_state.get(f"{key}_saved_upload")
            if memo and len(memo) > 2 and Path(memo[1]).is_file():
                source = memo[1]
                st.caption(f":material/attach_file: Using **{md_escape(memo[2])}**, uploaded earlier. Upload another file to "
                           "replace it.")
    elif src == "paste":
        text = st.text_area("Text", key=f"{key}_paste", persist_state=PERSIST, height=160,
                            placeholder="One document a line…",
                            help="Paste any text; each line is a document.")
        if text and text.strip():
            source = _saved_paste(text)  # None when refused: the picker then returns None
    elif src == "path" and server_files:
        name = st.selectbox("File", list(server_files), key=f"{key}_server_file",
                            help="The files your teacher put on the server for the class.")
        source = server_files.get(name)
    elif src == "path" and server_files is None:  # personal mode: the user's own machine, any local path
        p = st.text_input("Path", key=f"{key}_path", persist_state=PERSIST, placeholder="/data/corpus.csv",
                          help="A .txt/.csv/.tsv/.json/.jsonl/.parquet file or a folder saved with Dataset.save_to_disk.")
        if p and p.strip():
            source = p.strip()
    return source, split, True


def _text_column_widget(key: str, source: str) -> str | None:
    """A file with several columns: which one holds the documents."""
    text_column = None
    ident = corpus_cache.source_identity(source)
    cols = _text_columns(source, json.dumps(ident, sort_keys=True)) if ident else []
    if len(cols) > 1:
        tk = f"{key}_text_column"
        if st.session_state.get(tk) not in cols:  # first time, or another file: its own default column
            st.session_state[tk] = "text" if "text" in cols else cols[0]
        text_column = st.selectbox("Text column", cols, key=tk, persist_state=PERSIST,
                                   help="The column that holds the documents.")
    return text_column


def _tokenization_widgets(key: str) -> dict[str, object]:
    """The tokenization options, as CorpusConfig's fields."""
    with st.expander("Tokenization options"):
        lowercase = st.checkbox("Lowercase", key=f"{key}_lowercase", persist_state=PERSIST,
                                help="'The' and 'the' become one word.")
        keep_numbers = st.checkbox("Keep numbers", key=f"{key}_keep_numbers", persist_state=PERSIST,
                                   help="Keep tokens with digits (1984, mp3) instead of dropping them.")
        keep_punct = st.checkbox("Keep punctuation", key=f"{key}_keep_punct", persist_state=PERSIST,
                                 help="Keep punctuation marks as tokens of their own.")
        min_token_len = st.number_input("Minimum token length", min_value=1, max_value=20, step=1,
                                        key=f"{key}_min_token_len", persist_state=PERSIST,
                                        help="Drop tokens shorter than this.")
        keep_unk = st.checkbox("Keep <unk>", key=f"{key}_keep_unk", persist_state=PERSIST,
                               help="WikiText marks rare words as <unk>; keep it as a word.")
        pretokenized = st.checkbox("Already tokenized", key=f"{key}_pretokenized", persist_state=PERSIST,
                                   help="Split on white space only; no other cleaning.")
        extra = corpus_text.text_options(key)  # Unicode normalisation, phrases
    return {**extra, "lowercase": lowercase, "keep_numbers": keep_numbers, "keep_punct": keep_punct,
            "min_token_len": int(min_token_len), "keep_unk": keep_unk, "pretokenized": pretokenized}


def corpus_picker(key: str) -> CorpusConfig | None:
    """Source, corpus size and tokenization options; returns the config, or None until a source is complete.

    Every choice but an uploaded file (a browser upload cannot be kept by the server's widget state) persists
    for the session: leaving the page and coming back finds the picker as it was left.
    """
    for name, value in (("source", "sample"), ("split", "train"),
                        ("paste", ""), ("path", ""), ("size", ALL), ("lowercase", True),
                        ("keep_numbers", False), ("keep_punct", False), ("min_token_len", 1), ("keep_unk", False),
                        ("pretokenized", False)):
        default(f"{key}_{name}", value)
    server_files = _server_files()
    options = {**SOURCES, "path": "A file from the class's corpus folder"} if server_files else dict(SOURCES)
    if server_files == {}:  # shared mode without a corpus folder: no server files at all
        options.pop("path")
    if st.session_state.get(f"{key}_source") not in options:
        st.session_state[f"{key}_source"] = "sample"
    src = st.selectbox("Corpus", list(options), format_func=options.get, key=f"{key}_source", persist_state=PERSIST,
                       help="Bundled corpora work offline; WikiText downloads once through Hugging Face datasets.")
    source, split, ok = _source_widgets(key, src, server_files)
    if not ok:
        return None
    text_column = _text_column_widget(key, source) if source is not None and src in ("upload", "path") else None
    size = st.select_slider("Corpus size (tokens)", options=SIZES, format_func=fmt_size,
                            key=f"{key}_size", persist_state=PERSIST,
                            help="Whole documents in a fixed order until this many tokens: the same size always "
                                 "gives the same corpus.")
    tokens = _tokenization_widgets(key)
    if source is None:
        return None
    cfg = CorpusConfig(source=source, max_tokens=None if size == ALL else int(size), text_column=text_column,
                       split=split, **tokens)
    try:
        cfg.validate()
    except W2VError as e:
        show_error(e)
        return None
    return cfg


def offline_message(config: CorpusConfig) -> str:
    """Why a WikiText corpus cannot be loaded, for someone in a browser (the library's message names CLI flags)."""
    name = SOURCES.get(config.source, config.source).split(" · ")[0]
    why = ("the app is set to work offline" if hub.offline_mode() else
           "this server cannot reach Hugging Face, where it is downloaded from")
    if session.shared():
        how = "or ask whoever runs the app to download WikiText once"
    elif hub.offline_mode():
        how = ("or, to download it once, restart the app with HF_HUB_OFFLINE and HF_DATASETS_OFFLINE unset, while "
               "this machine is online; it works offline from then on")
    else:
        how = ("or connect this machine to the internet and press Train again: WikiText is downloaded once and "
               "works offline from then on")
    return (f"{name} ({config.split} split) is not on this machine yet, and {why}. Use the bundled Wikipedia "
            f"sample (it works offline), {how}.")


def use_sample(key: str) -> None:
    """Switch picker ``key`` to the bundled sample (a button's on_click, when WikiText cannot be had)."""
    st.session_state[f"{key}_source"] = "sample"


def min_count_control() -> int:
    """The min count slider, the same widget on the Corpus and Train pages (one value for both)."""
    default(MIN_COUNT, showcase.FIRST_RUN["min_count"])
    return st.slider("Min count", min_value=1, max_value=100, key=MIN_COUNT, persist_state=PERSIST,
                     help="Words seen fewer times than this are dropped from the vocabulary (word2vec's min_count). "
                          "The Corpus page shows how many words that keeps.")


SAMPLE = CorpusConfig(source="sample")  # what the picker gives before anything is changed (the first values)


@st.cache_resource(show_spinner=False)
def warm_up_sample() -> threading.Thread | None:
    """Tokenize the bundled sample into the corpus cache in a background thread, once per server process, when the
    cache does not have it yet: app.py calls this on every page run, so a new server starts on it with its first
    visitor, and their first Corpus page (or first run) reads it back instead of parsing the Wikipedia dump's
    markup itself (~7 s of CPU: 27 s on a busy 2-core machine). ``W2V_WARM_CORPUS=0`` turns it off."""
    if os.environ.get("W2V_WARM_CORPUS", "1") == "0" or corpus_cache.load(SAMPLE) is not None:
        return None

    def run() -> None:
        from w2v_core.serve import jobs

        deadline = time.monotonic() + 900.0
        while jobs.QUEUE.running() and time.monotonic() < deadline:  # a run in progress comes first
            time.sleep(1.0)
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # Linux: this thread only
        except (AttributeError, OSError):
            pass
        try:
            load_corpus(SAMPLE)
        except Exception:  # noqa: BLE001 - the page loads it itself and says what went wrong
            log.warning("preparing the bundled sample failed", exc_info=True)

    thread = threading.Thread(target=run, name="w2v-sample-warm-up", daemon=True)
    thread.start()
    return thread


def _wait_for_warm_up(config: CorpusConfig) -> None:
    """The sample half tokenized in the background: wait for it (then the cache has it) instead of starting over."""
    thread = warm_up_sample() if config == SAMPLE else None
    if thread is not None and thread.is_alive():
        with st.spinner("Preparing the bundled sample (once per server)…", show_time=True):
            thread.join(600)


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(config: CorpusConfig, stamp: str, uploads: str, _progress=None) -> Corpus:
    corpus = load_corpus(config, _progress, uploads=uploads)  # a shared server reads only this visitor's own uploads
    for a in (corpus.ids, corpus.offsets, corpus.counts):
        a.flags.writeable = False  # shared by every session: nobody may change it in place
    return corpus


def load_corpus_cached(config: CorpusConfig) -> Corpus:
    """The tokenized corpus, shared across reruns and sessions.

    ``st.cache_resource`` rather than ``st.cache_data``: a WikiText-103 corpus is ~0.4 GB of ids, and
    ``cache_data`` would copy it on every rerun. The arrays are made read-only instead. A changed local file
    (size/mtime) gets a new entry.
    """
    _wait_for_warm_up(config)
    ident = corpus_cache.source_identity(config.source)
    return _load(config, json.dumps(ident, sort_keys=True), str(session.uploads_folder()))


def load_corpus_with_progress(config: CorpusConfig) -> Corpus:
    """:func:`load_corpus_cached` with a progress bar while a file is tokenized (bytes, tokens, time left).

    The bar is the page's, not the cached function's, so its updates run in the context the page had before the
    call (as ``map_view.projected`` does): drawn live, and not recorded for a cache hit to draw again.
    """
    bar = st.empty()
    outside = contextvars.copy_context()

    def progress(fraction: float, message: str) -> None:
        outside.run(bar.progress, min(max(fraction, 0.0), 1.0), text=message)

    _wait_for_warm_up(config)
    ident = corpus_cache.source_identity(config.source)
    try:
        return _load(config, json.dumps(ident, sort_keys=True), str(session.uploads_folder()), progress)
    finally:
        bar.empty()


@st.cache_data(max_entries=16, show_spinner=False)
def _stats(config: CorpusConfig, stamp: str, uploads: str) -> CorpusStats:
    return corpus_stats(load_corpus_cached(config))


def corpus_stats_cached(config: CorpusConfig) -> CorpusStats:
    """Corpus statistics (small: no per-token data), cached per config."""
    ident = corpus_cache.source_identity(config.source)
    return _stats(config, json.dumps(ident, sort_keys=True), str(session.uploads_folder()))
