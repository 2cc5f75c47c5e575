"""Text in any script: Unicode normalisation, letters with combining marks, scripts written without spaces.

Three things the tokenizer (``corpus.Tokenizer``) needs beyond a regular expression for words:

* **Normalisation.** The same word can be spelled with different code points: "très" precomposed (NFC, what most
  text uses) or as "tre" + COMBINING GRAVE ACCENT + "s" (NFD, what macOS file names and some exports produce).
  Text is normalised to NFC before tokenizing (``CorpusConfig.normalize``; NFKC also folds compatibility forms:
  full-width Ｔｏｋｙｏ -> Tokyo, the ligature ﬁ -> fi; "none" keeps the text as it is).
* **Combining marks.** Python's ``\\w`` does not match a combining mark (Unicode category M), so a mark that has no
  precomposed form (Devanagari vowel signs and viramas, Thai vowels, a stray accent) would split its word. The
  tokenizer's word pattern also accepts marks after a letter: :func:`mark_class` is that character class.
* **Scripts without spaces.** Chinese, Japanese, Thai, Lao, Khmer and Myanmar text is one ``\\w`` run per clause.
  Such runs are split into words by a maintained segmenter where one is installed (Chinese: jieba), and otherwise
  into single characters (a letter with its marks), which word2vec can still learn from. :func:`script_notes`
  says on the Corpus page which of the two happened.

The corpus cache key includes :data:`RULES` and :func:`segmenters` (``corpus_cache.cache_key``), so a corpus
tokenized before a rule changed, or before jieba was installed, is not reused.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging
import re
import unicodedata
from typing import Callable, Iterable

log = logging.getLogger(__name__)

RULES = 1  # bump when what this module does to a token changes
NORMAL_FORMS = ("NFC", "NFKC", "none")

# Scripts written without spaces between words (ranges of their letters, marks included).
_HAN = "\u3005\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KANA = "\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_THAI = "\u0e00-\u0e7f"
_OTHER = "\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff"  # Lao, Myanmar, Khmer (+ symbols)
_UNSPACED = re.compile(f"[{_HAN}{_KANA}{_THAI}{_OTHER}]")
_RUNS = re.compile(f"[{_HAN}{_KANA}{_THAI}{_OTHER}]+|[^{_HAN}{_KANA}{_THAI}{_OTHER}]+")
_IS_HAN = re.compile(f"[{_HAN}]")
_IS_KANA = re.compile(f"[{_KANA}]")
_IS_THAI = re.compile(f"[{_THAI}]")

LANGUAGES = {"zh": "Chinese", "ja": "Japanese", "th": "Thai", "other": "Lao, Khmer or Myanmar"}


def normalize(text: str, form: str) -> str:
    """``text`` in Unicode normal form ``form`` (NFC, NFKC) or unchanged ("none"). ASCII text is left as it is."""
    if form == "none" or text.isascii():
        return text
    return unicodedata.normalize(form, text)


@functools.lru_cache(maxsize=1)
def mark_class() -> str:
    """The combining marks (Unicode category M) as the inside of a regex character class (built once, ~20 ms)."""
    ranges: list[tuple[int, int]] = []
    for cp in (*range(0x20000), *range(0xE0000, 0xE1000)):  # no marks live outside planes 0, 1 and 14
        if unicodedata.category(chr(cp))[0] == "M":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


@functools.lru_cache(maxsize=1)
def has_mark() -> re.Pattern:
    return re.compile(f"[{mark_class()}]")


def has_unspaced(text: str) -> bool:
    """Whether ``text`` has a letter of a script written without spaces (only ever true for non-ASCII text)."""
    return not text.isascii() and _UNSPACED.search(text) is not None


# ---------------------------------------------------------------------------------------------- segmenters


def segmenters() -> dict[str, str]:
    """The word segmenters installed, by language: {"zh": "jieba 0.42.1"}. Cheap: nothing is imported."""
    out = {}
    if importlib.util.find_spec("jieba") is not None:
        try:
            out["zh"] = f"jieba {importlib.metadata.version('jieba')}"
        except importlib.metadata.PackageNotFoundError:
            out["zh"] = "jieba"
    return out


@functools.lru_cache(maxsize=1)
def _jieba() -> Callable[[str], list[str]] | None:
    try:
        import jieba
    except Exception as e:  # noqa: BLE001 - a broken install means single characters, with a log line
        log.warning("jieba could not be imported (%s); Chinese text is split into single characters", e)
        return None
    jieba.setLogLevel(logging.WARNING)  # it announces its dictionary on stderr otherwise
    return functools.partial(jieba.lcut, HMM=True)


def _characters(run: str) -> list[str]:
    """Single characters, each with the combining marks that follow it (a Thai consonant keeps its vowel sign)."""
    return re.findall(f".[{mark_class()}]*", run, flags=re.S)


def _language(run: str, japanese: bool) -> str:
    if japanese or _IS_KANA.search(run):
        return "ja"
    if _IS_HAN.search(run):
        return "zh"
    return "th" if _IS_THAI.search(run) else "other"


def _segment(run: str, lang: str) -> list[str]:
    if lang == "zh" and "zh" in segmenters():
        cut = _jieba()
        if cut is not None:
            return [w for w in cut(run) if w.strip()]
    return _characters(run)


def split_unspaced(tokens: Iterable[str], line: str) -> list[str]:
    """Tokens with their runs of unspaced-script letters split into words (see the module docstring).

    A line with any kana in it is Japanese, so its kanji are not given to the Chinese segmenter.
    """
    japanese = _IS_KANA.search(line) is not None
    out: list[str] = []
    for tok in tokens:
        if not _UNSPACED.search(tok):
            out.append(tok)
            continue
        for run in _RUNS.findall(tok):
            if _UNSPACED.match(run):
                out.extend(_segment(run, _language(run, japanese)))
            else:
                out.append(run)
    return out


def script_notes(words: list[str], pretokenized: bool = False) -> list[str]:
    """What happened to text in scripts without spaces, in plain sentences for the Corpus page ([] if none)."""
    if pretokenized:
        return []
    text = "\n".join(w for w in words if not w.isascii())
    if not _UNSPACED.search(text):
        return []
    seg = segmenters()
    kana = _IS_KANA.search(text) is not None
    han = _IS_HAN.search(text) is not None
    han_words = re.search(f"^[{_HAN}]{{2,}}$", text, flags=re.M) is not None  # what only a segmenter makes
    notes = []
    if han and (not kana or han_words):
        how = f"into words with {seg['zh']}" if "zh" in seg else \
            "into single characters (no Chinese word segmenter is installed: pip install jieba)"
        notes.append(f"Chinese text was split {how}.")
    if kana:
        notes.append("Japanese text was split into single characters: no Japanese word segmenter is supported yet.")
    if _IS_THAI.search(text):
        notes.append("Thai text was split into single letters (each with its vowel and tone marks): no Thai word "
                     "segmenter is supported yet.")
    if re.search(f"[{_OTHER}]", text):
        notes.append("Lao, Khmer or Myanmar text was split into single letters (each with its marks).")
    return notes

