"""The block tokenizer and the parallel file tokenizer give exactly the old line-by-line corpus (data/stream.py)."""

import numpy as np
import pytest

from w2v_core.data import blocks, bundled, stream
from w2v_core.data.corpus import CorpusBuilder, CorpusConfig, Tokenizer, iter_line_docs
from w2v_core.data.sources import read_text_lines


def _line_by_line(path, cfg):
    b = CorpusBuilder(cfg.max_tokens)
    for toks in iter_line_docs(read_text_lines(path), Tokenizer.from_config(cfg)):
        if not b.add(toks):
            break
    return b.build("x", cfg)


def _same(a, b):
    assert a.words == b.words
    assert np.array_equal(a.ids, b.ids)
    assert np.array_equal(a.offsets, b.offsets)
    assert np.array_equal(a.counts, b.counts)
    assert a.truncated == b.truncated


MIXED = ("= Heading =\n  = = Section = =  \nCafé très İstanbul naïve e\u0301t\u00e9 ΟΔΟΣ όσος\n"
         "東京は日本の首都です。北京是中国的首都\r\n"
         "ภาษาไทย कि\u094dष hello @-@ world 1 @,@ 000 <unk> don't 'quoted' mp3 3.14\n\n"
         "Ｔｏｋｙｏ ﬁne \u212a\x1cx\u2028y\tz\rlast line without newline")


@pytest.fixture(scope="module")
def real_text(tmp_path_factory):
    """The bundled sample (Wikipedia), the Lee corpus and mixed scripts, as one text file."""
    parts = [a if a.endswith("\n") else a + "\n" for a in bundled.sample_texts()]
    parts += list(bundled.lee_texts())
    parts.append(MIXED)
    p = tmp_path_factory.mktemp("stream") / "real.txt"
    p.write_text("".join(parts), encoding="utf-8")
    return p


OPTIONS = [{}, {"max_tokens": 1000}, {"max_tokens": 200_000}, {"keep_numbers": True, "keep_punct": True,
           "keep_unk": True}, {"pretokenized": True}, {"min_token_len": 3}, {"lowercase": False},
           {"normalize": "NFKC"}, {"normalize": "none"}]


@pytest.mark.parametrize("opts", OPTIONS, ids=[str(o) for o in OPTIONS])
def test_blocks_give_the_line_by_line_corpus(real_text, opts, monkeypatch):
    monkeypatch.setattr(stream, "BLOCK_BYTES", 200_000)  # many blocks, cut at line ends
    cfg = CorpusConfig(source=str(real_text), **opts)
    _same(_line_by_line(real_text, cfg), stream.in_memory(stream.tokenize_file(real_text, cfg, workers=1), cfg))


def test_mixed_scripts_line_by_line():
    tok = Tokenizer()
    bt = blocks.BlockTokenizer(tok)
    lines = MIXED.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    want = [t for line in lines if not ("=" in line and __import__("w2v_core.data.corpus", fromlist=["x"])
                                        .is_heading(line)) for t in tok(line)]
    assert [t for t in bt.tokens(MIXED.replace("\r\n", "\n").replace("\r", "\n")) if t != "\n"] == want
    assert "i̇stanbul" in want and "東京" in "".join(want)


def test_worker_processes_give_the_same_corpus_and_report_progress(real_text, monkeypatch, tmp_path):
    monkeypatch.setattr(stream, "BLOCK_BYTES", 1_000_000)
    cfg = CorpusConfig(source=str(real_text))
    seen = []
    t = stream.tokenize_file(real_text, cfg, progress=lambda f, m: seen.append((f, m)), shards=tmp_path, workers=2)
    assert list(tmp_path.glob("shard-*.npy"))  # the ids went to shard files
    _same(_line_by_line(real_text, cfg), stream.in_memory(t, cfg))
    assert not list(tmp_path.glob("shard-*.npy"))  # and were removed once copied
    assert seen and seen[-1][0] == 1.0 and "tokens" in seen[-1][1] and "MB" in seen[-1][1]


def test_a_file_that_is_not_utf8_is_read_in_its_encoding(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes(("café crème " * 50 + "\n").encode("cp1252") * 20)
    cfg = CorpusConfig(source=str(p))
    _same(_line_by_line(p, cfg), stream.in_memory(stream.tokenize_file(p, cfg, workers=1), cfg))


def _losses(corpus):
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    r = Trainer(corpus, ModelConfig(dim=16, min_count=2, window=3), TrainConfig(epochs=2, threads=1, seed=5)).train()
    # the per-epoch losses (the batch reports fall where the clock says) and the weights
    return [e["loss"] for e in r.history["epoch"]], r.model.w_in.detach().numpy().copy()


def test_a_big_file_goes_to_the_cache_in_shards_and_trains_mapped_as_in_memory(real_text, tmp_path, monkeypatch):
    from w2v_core import workers
    from w2v_core.data import corpus_cache
    from w2v_core.data.loader import load_corpus

    monkeypatch.setenv("W2V_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(stream, "PARALLEL_MIN_BYTES", 1)  # "big": streamed into the cache, on 2 processes
    monkeypatch.setattr(stream, "BLOCK_BYTES", 1_000_000)
    monkeypatch.setattr(corpus_cache, "MMAP_MIN_BYTES", 1)  # read back memory-mapped
    monkeypatch.setattr(workers, "ENCODE_STEP", 10_000)  # encoded for training in many steps
    cfg = CorpusConfig(source=str(real_text), max_tokens=300_000)
    seen = []
    mapped = load_corpus(cfg, progress=lambda f, m: seen.append(m), any_path=True)
    assert isinstance(mapped.ids, np.memmap)
    assert any("tokens/s" in m for m in seen)
    entry = corpus_cache.cache_dir() / corpus_cache.cache_key(cfg)
    assert sorted(p.name for p in entry.iterdir()) == ["counts.npy", "ids.npy", "meta.json", "offsets.npy",
                                                      "words.json"]  # no shard left
    old = _line_by_line(real_text, cfg)
    _same(old, mapped)
    a, wa = _losses(old)
    b, wb = _losses(mapped)
    assert np.array_equal(wa, wb)  # the same training, step for step
    assert np.allclose(a, b, rtol=1e-6)  # (float32 sums grouped where the progress reports fell)


def test_a_split_off_clitic_is_one_token_in_both_tokenizers():
    """WikiText writes "the city 's hall" and "don 't": the clitic is the token "'s" / "'t" (it was a stray "s", the
    9th most frequent word of WikiText-2's valid split), while "john's" stays one word; both tokenizers agree."""
    line = "The city 's hall , John's hat ; they 're here , don 't go ; the bands ' songs\n"
    want = ["the", "city", "'s", "hall", "john's", "hat", "they", "'re", "here", "don", "'t", "go", "the", "bands",
            "songs"]
    assert Tokenizer()(line) == want
    assert [t for t in blocks.BlockTokenizer(Tokenizer()).tokens(line) if t != "\n"] == want
    assert "s" not in Tokenizer(keep_punct=True)(line)
