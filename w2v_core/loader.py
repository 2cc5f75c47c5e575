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

from dataclasses import replace

from w2v_core import bundled, corpus_cache, hub, sources
from w2v_core.corpus import BUILTIN, WIKITEXT, Corpus, CorpusConfig, ProgressFn


def load_corpus(config: CorpusConfig, progress: ProgressFn | None = None, use_cache: bool = True) -> Corpus:
    """Load and tokenize the corpus that ``config`` names, through the on-disk corpus cache.

    Why the cache: tokenizing a large corpus is the slow part of a first run; a second run with the same
    source and options reads int32 arrays back instead.
    """
    config.validate()
    if use_cache:
        cached = corpus_cache.load(config)
        if cached is not None:
            if progress is not None:
                progress(1.0, "loaded from the corpus cache")
            return cached
    corpus = _load_uncached(config, progress)
    if use_cache:
        corpus_cache.save(config, corpus)
    if progress is not None:
        progress(1.0, f"{corpus.n_tokens:,} tokens")
    return corpus


def _load_uncached(config: CorpusConfig, progress: ProgressFn | None = None) -> Corpus:
    """Dispatch on the source: bundled corpora, WikiText from the Hub, or a local file/folder."""
    if config.source in BUILTIN:
        return bundled.load_bundled(config, progress)
    if config.source in WIKITEXT:
        return hub.load_wikitext_corpus(config, progress)
    return sources.load_local(config.source, config, progress)


def load_upload(data: bytes, filename: str, config: CorpusConfig | None = None,
                progress: ProgressFn | None = None) -> Corpus:
    """Save an upload (checked, see ``sources.save_upload``) and load it with ``config``'s options."""
    path = sources.save_upload(data, filename)
    return load_corpus(replace(config or CorpusConfig(), source=str(path)), progress)
