"""Issue 25: every write is counted against its quota BEFORE it happens, and caches cannot be poisoned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from w2v_core.data import corpus_cache, sources
from w2v_core.data.corpus import CorpusConfig
from w2v_core.data.loader import load_corpus
from w2v_core.errors import W2VError
from w2v_core.serve import quota

MB = 1024 * 1024


def _text(i: int, nbytes: int) -> str:
    line = f"document {i} says the cat eats fish and the dog eats meat number {i}\n"
    return line * (nbytes // len(line))


def test_pasted_texts_never_push_the_uploads_past_their_quota(tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_QUOTA_UPLOADS_MB", "1")
    folder = tmp_path / "uploads"
    for i in range(5):  # the audit's five ~0.38 MB pastes
        p = quota.save_pasted_text(_text(i, 380_000), folder)
        assert p.is_file()
        assert quota.usage("uploads", folder).used <= 1 * MB
    assert quota.usage("uploads", folder).items == 2  # the newest ones stay


def test_an_upload_bigger_than_the_quota_is_refused_before_it_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_QUOTA_UPLOADS_MB", "1")
    folder = tmp_path / "uploads"
    kept = quota.save_pasted_text(_text(0, 300_000), folder)
    with pytest.raises(quota.QuotaFull, match="needs 1.5 MB"):
        quota.save_upload(_text(1, 1_500_000).encode(), "big.txt", folder)
    assert sorted(folder.iterdir()) == [kept]  # refused: nothing written, nothing evicted for it


def test_the_corpus_cache_stays_within_its_quota_on_every_load(tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_QUOTA_CACHE_MB", "1")
    for i in range(6):
        f = tmp_path / f"c{i}.txt"
        f.write_text(_text(i, 600_000))
        load_corpus(CorpusConfig(source=str(f)))
        assert quota.usage("cache").used <= 1 * MB
    assert quota.usage("cache").items >= 1


def test_csv_uploads_leave_no_arrow_copy_outside_the_quota(tmp_path):
    f = tmp_path / "rows.csv"
    f.write_text("text\n" + "".join(f"row {i} the cat eats fish\n" for i in range(3000)))
    assert sources.dataset_text_columns(f) == ["text"]
    load_corpus(CorpusConfig(source=str(f)))
    others = [p for p in corpus_cache.cache_dir().rglob("*") if p.is_file()
              and p.relative_to(corpus_cache.cache_dir()).parts[0] not in {it.path.name for it in quota.items("cache")}]
    assert others == []  # only corpus-cache entries, which the cache quota counts


def test_a_fake_parquet_upload_is_refused(tmp_path):
    with pytest.raises(W2VError, match="not a readable Parquet"):
        sources.save_upload(b"PAR1" + b"x" * 100 + b"PAR1", "fake.parquet", folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_file_replaced_while_tokenized_is_not_cached_with_its_old_tokens(tmp_path, monkeypatch):
    f = tmp_path / "corpus.txt"
    f.write_text("old words here\n" * 50)
    real = sources.load_local

    def replaced_midway(path, config, progress=None):
        corpus = real(path, config, progress)  # read the old text, then someone replaces the file
        new = tmp_path / "new.txt"
        new.write_text("new texts there\n" * 50)  # same size
        st = os.stat(f)
        os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same modification time
        os.replace(new, f)
        return corpus

    monkeypatch.setattr(sources, "load_local", replaced_midway)
    assert "old" in load_corpus(CorpusConfig(source=str(f))).words
    monkeypatch.setattr(sources, "load_local", real)
    assert "new" in load_corpus(CorpusConfig(source=str(f))).words
    assert "new" in load_corpus(CorpusConfig(source=str(f))).words  # now cached, under the right identity


def test_a_folder_that_is_not_a_saved_dataset_is_not_walked(tmp_path, monkeypatch):
    """Issue 25: the personal path box walked /usr or /root file by file (~60 s a rerun) for a cache key."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.txt").write_text("x")
    monkeypatch.setattr(Path, "rglob", lambda *a, **k: pytest.fail("walked a folder that cannot be a corpus"))
    assert corpus_cache.source_identity(str(tmp_path)) is None


def test_leftovers_of_killed_cache_saves_are_removed_and_nothing_else(tmp_path):
    import time

    root = tmp_path / "cache"
    old = time.time() - 2 * corpus_cache.LEFTOVER_AFTER_S
    names = [f".{'a' * 32}-k2j4h5", ".datasets-x8y9z0q1", f".{'b' * 32}-fresh1", ".my-notes", "b" * 32]
    for n in names:
        (root / n).mkdir(parents=True)
        (root / n / "ids.npy").write_bytes(b"0")
        if n != f".{'b' * 32}-fresh1":
            os.utime(root / n, (old, old))
    gone = corpus_cache.clean_leftovers(root)
    assert sorted(p.name for p in gone) == sorted(names[:2])
    assert sorted(p.name for p in root.iterdir()) == sorted(names[2:])
