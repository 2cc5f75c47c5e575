"""The data that ships inside gensim's wheel: two small corpora and the benchmark files, usable offline.

* ``sample``: an excerpt of English Wikipedia (~470k tokens), wiki markup removed, one article a document.
* ``lee``: the Lee background news corpus (~60k tokens), one story a line.
* ``wordsim353.tsv``, ``simlex999.txt``, ``questions-words.txt``: read by ``evaluation.py``.

:func:`data_path` is the one place that knows where those files live.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Iterator

from w2v_core.data.corpus import BUILTIN, Corpus, CorpusConfig, ProgressFn, from_texts
from w2v_core.errors import W2VError

SAMPLE_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
LEE_FILE = "lee_background.cor"
FILES = {"sample": SAMPLE_FILE, "lee": LEE_FILE}
NAMES = {"sample": "sample (Wikipedia excerpt bundled with gensim)", "lee": "lee (Lee news corpus bundled with gensim)"}
DOCS = {"sample": 107, "lee": 300}  # articles / stories, for the progress bar
assert set(FILES) == set(NAMES) == set(BUILTIN)


def data_path(fname: str) -> Path:
    """A file of gensim's ``test_data`` folder (the same folder as ``gensim.test.utils.datapath``).

    Found through the package spec rather than by importing ``gensim.test.utils``, which builds demo corpora.
    """
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - gensim is in requirements.txt
        raise W2VError("The bundled corpora and benchmarks come with gensim: pip install gensim")
    return Path(list(spec.submodule_search_locations)[0]) / "test" / "test_data" / fname


def corpus_file(name: str) -> Path:
    """The file behind a bundled corpus name (``sample`` or ``lee``)."""
    if name not in FILES:
        raise W2VError(f"Unknown built-in corpus '{name}': choose one of {', '.join(BUILTIN)}.")
    return data_path(FILES[name])


def sample_texts() -> Iterator[str]:
    """Articles of the Wikipedia excerpt, wiki markup removed (one string per article)."""
    import bz2

    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    with bz2.open(corpus_file("sample"), "rt", encoding="utf-8") as f:
        for _title, text, _pid in extract_pages(f, filter_namespaces=("0",)):
            if not text or text.lstrip().lower().startswith("#redirect"):
                continue
            # paragraphs are documents; filter_wiki leaves '''bold''' and ''italic'' quotes, which the tokenizer drops
            yield filter_wiki(text)


def lee_texts() -> Iterator[str]:
    """The Lee background news corpus (one news story per line)."""
    with open(corpus_file("lee"), encoding="utf-8", errors="replace") as f:
        yield from f


def load_bundled(config: CorpusConfig, progress: ProgressFn | None = None) -> Corpus:
    """Tokenize a bundled corpus with ``config``'s options."""
    name = config.source
    corpus_file(name)  # a clear message for an unknown name
    texts = sample_texts() if name == "sample" else lee_texts()
    return from_texts(texts, NAMES[name], config, progress, DOCS[name])
