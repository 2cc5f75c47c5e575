"""Every corpus source in one place: a :class:`CorpusConfig` in, a tokenized :class:`Corpus` out.

``CorpusConfig.source`` names the source:

* ``sample`` / ``lee``: bundled with gensim, offline (``bundled.py``);
* ``wikitext-2`` / ``wikitext-103``: WikiText through Hugging Face ``datasets``, failing fast without the Hub
  (``hub.py``);
* a path: a text file (one document a line), a CSV/JSON-lines/Parquet file or a saved ``datasets`` folder
  (``sources.py``); an upload is saved to such a file first (:func:`load_upload`).

Every load goes through the on-disk cache (``corpus_cache.py``): the same source and options are tokenized
once, and a smaller ``max_tokens`` is cut from a cached full corpus. To add a source, give it a name in
``corpus.py``, a reader that returns a ``Corpus``, a branch in :func:`_load_uncached` and an identity in
``corpus_cache.source_identity`` (so an edited source is read again).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from w2v_core.data import bundled, corpus_cache, hub, sources, stream
from w2v_core.data.corpus import BUILTIN, WIKITEXT, Corpus, CorpusConfig, ProgressFn
from w2v_core.data.textfile import check_local_file
from w2v_core.errors import W2VError
from w2v_core.settings import Settings, allowed_corpus_path, get_settings


def load_corpus(config: CorpusConfig, progress: ProgressFn | None = None, use_cache: bool = True, *,
                uploads: str | os.PathLike | None = None, any_path: bool = False) -> Corpus:
    """Load and tokenize the corpus that ``config`` names, through the on-disk corpus cache.

    Why the cache: tokenizing a large corpus is the slow part of a first run; a second run with the same
    source and options reads int32 arrays back instead. On a shared server a local source must pass
    :func:`check_source` first (``uploads``: the visitor's own uploads folder), cached or not; ``any_path`` is for
    the command line only, whose user sits at the server and may read what their account may.
    """
    config.validate()
    if not any_path:
        config = check_source(config, uploads)
    if use_cache:
        cached = corpus_cache.load(config)
        if cached is not None:
            if progress is not None:
                progress(1.0, "loaded from the corpus cache")
            return cached
    key = corpus_cache.cache_key(config) if use_cache else None  # the source's identity BEFORE it is read
    if key is not None and _streamed(config):  # a big text file: tokenized in shards straight into the cache
        corpus = stream.into_cache(config, key, progress)
        if progress is not None:
            progress(1.0, f"{corpus.n_tokens:,} tokens")
        return corpus
    if config.phrases:  # on the corpus without phrases (itself cached), so changing a phrase knob does not re-tokenize
        from w2v_core.data.phrases import apply_phrases

        corpus = apply_phrases(load_corpus(replace(config, phrases=0), progress, use_cache, any_path=True), config)
    else:
        corpus = _load_uncached(config, progress)
    if key is not None and corpus_cache.cache_key(config) == key:  # changed while read: not cached (it is stale)
        corpus_cache.save(config, corpus, key)  # within the cache quota (corpus_cache.set_reserve)
    if progress is not None:
        progress(1.0, f"{corpus.n_tokens:,} tokens")
    return corpus


def _streamed(config: CorpusConfig) -> bool:
    """Whether ``config`` names a plain-text file big enough to be streamed into the cache (``stream.into_cache``)."""
    if config.phrases:
        return False
    try:
        p = check_local_file(Path(str(config.source)).expanduser())
        return p.is_file() and p.suffix.lower() not in sources.DATASET_FORMATS and not sources._is_parquet(p) and \
            p.stat().st_size >= stream.PARALLEL_MIN_BYTES
    except (W2VError, OSError):
        return False


def check_source(config: CorpusConfig, uploads: str | os.PathLike | None = None,
                 settings: Settings | None = None) -> CorpusConfig:
    """``config`` with a source this server may read for this visitor; W2VError for a server path they may not.

    Personal mode (one person's own machine): any source, unchanged. Shared mode: bundled and WikiText corpora,
    files in the operator's corpus folder (``settings.allowed_corpus_path``: ``..`` and links resolved first), and
    files directly in ``uploads``, the visitor's own uploads folder; any other path, however spelled, is refused.
    The source comes back resolved, so what is checked is what is read.
    """
    s = settings or get_settings()
    src = str(config.source)
    if not s.shared or src in BUILTIN or src in WIKITEXT:
        return config
    if uploads is not None and os.path.isabs(src):
        try:
            real, folder = Path(src).resolve(), Path(uploads).resolve()
        except (OSError, RuntimeError):
            real, folder = None, None
        if real is not None and real.parent == folder:
            return replace(config, source=str(real))
    return replace(config, source=str(allowed_corpus_path(src, s)))


def _load_uncached(config: CorpusConfig, progress: ProgressFn | None = None) -> Corpus:
    """Dispatch on the source: bundled corpora, WikiText from the Hub, or a local file/folder."""
    if config.source in BUILTIN:
        return bundled.load_bundled(config, progress)
    if config.source in WIKITEXT:
        return hub.load_wikitext_corpus(config, progress)
    return sources.load_local(config.source, config, progress)


def load_upload(data: bytes, filename: str, config: CorpusConfig | None = None,
                progress: ProgressFn | None = None, folder: str | os.PathLike | None = None) -> Corpus:
    """Save an upload (checked, see ``sources.save_upload``; in ``folder``) and load it with ``config``'s options."""
    path = sources.save_upload(data, filename, folder=folder)
    return load_corpus(replace(config or CorpusConfig(), source=str(path)), progress,
                       uploads=folder if folder is not None else sources.uploads_dir())
