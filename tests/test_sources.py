"""Local datasets (text, CSV, JSON lines, Parquet, save_to_disk folders) and uploads."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest

from w2v_core.data import sources
from w2v_core.data.corpus import CorpusConfig, from_texts
from w2v_core.data.loader import load_corpus, load_upload
from w2v_core.errors import W2VError

DOCS = ["The cat sat on the mat.", "Dogs chase 3 cats, daily!", "A mat is\nnot a hat"]
LABELS = ["one", "two", "three"]


def _expected(config: CorpusConfig | None = None):
    return from_texts(DOCS, "x", config or CorpusConfig(source="x"))


def _same_tokens(a, b) -> bool:
    return [a.doc_tokens(i) for i in range(a.n_docs)] == [b.doc_tokens(i) for i in range(b.n_docs)]


@pytest.fixture
def ds():
    return datasets.Dataset.from_dict({"id": [1, 2, 3], "text": DOCS, "label": LABELS})


def _write(ds, tmp_path, kind):
    if kind == "csv":
        p = tmp_path / "d.csv"
        ds.to_csv(str(p), index=False)
    elif kind == "tsv":
        p = tmp_path / "d.tsv"
        ds.to_pandas().to_csv(p, sep="\t", index=False)
    elif kind == "jsonl":
        p = tmp_path / "d.jsonl"
        ds.to_json(str(p), lines=True)
    elif kind == "json":
        p = tmp_path / "d.json"
        p.write_text(json.dumps([dict(r) for r in ds]), encoding="utf-8")
    elif kind == "parquet":
        p = tmp_path / "d.parquet"
        ds.to_parquet(str(p))
    elif kind == "disk":
        p = tmp_path / "saved"
        ds.save_to_disk(str(p))
    elif kind == "disk_dict":
        p = tmp_path / "saved_dict"
        datasets.DatasetDict({"train": ds, "test": ds.select([0])}).save_to_disk(str(p))
    else:  # txt: one document a line
        p = tmp_path / "d.txt"
        p.write_text("\n".join(d.replace("\n", " ") for d in DOCS), encoding="utf-8")
    return p


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "json", "parquet", "disk", "disk_dict"])
def test_every_dataset_format_loads_the_text_column(ds, tmp_path, kind):
    p = _write(ds, tmp_path, kind)
    c = load_corpus(CorpusConfig(source=str(p)))
    assert _same_tokens(c, _expected())
    assert c.ids.dtype == np.int32 and c.n_docs == 4  # "A mat is\nnot a hat" is two paragraphs


def test_text_file_is_one_document_a_line(ds, tmp_path):
    c = load_corpus(CorpusConfig(source=str(_write(ds, tmp_path, "txt"))))
    assert c.n_docs == 3 and c.doc_tokens(2) == ["a", "mat", "is", "not", "a", "hat"]



def test_a_pathlib_path_is_a_source_like_its_string(ds, tmp_path):
    """A ``Path`` given through the Python API used to load and then fail writing the corpus cache (not JSON)."""
    p = _write(ds, tmp_path, "txt")
    config = CorpusConfig(source=p)
    assert config.source == str(p)
    c = load_corpus(config)
    assert c.doc_tokens(2) == ["a", "mat", "is", "not", "a", "hat"]
    assert json.loads(json.dumps(config.__dict__))["source"] == str(p)
    assert load_corpus(CorpusConfig(source=str(p))).words == c.words

@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet", "disk", "txt"])
def test_options_and_size_reach_every_format(ds, tmp_path, kind):
    p = str(_write(ds, tmp_path, kind))
    nums = load_corpus(CorpusConfig(source=p, keep_numbers=True, keep_punct=True, lowercase=False))
    assert "3" in nums.words and "," in nums.words and "The" in nums.words
    small = load_corpus(CorpusConfig(source=p, max_tokens=3))
    assert small.n_docs == 1 and small.n_tokens == 6 and small.truncated
    assert not load_corpus(CorpusConfig(source=p)).truncated
    long = load_corpus(CorpusConfig(source=p, min_token_len=4))
    assert set(long.words) == {"cats", "dogs", "chase", "daily"}


def test_several_string_columns_need_a_choice(tmp_path):
    d = datasets.Dataset.from_dict({"title": ["Alpha", "Beta"], "body": ["red green", "blue"], "n": [1, 2]})
    p = tmp_path / "two.parquet"
    d.to_parquet(str(p))
    with pytest.raises(W2VError, match="several text columns.*title, body.*--text-column"):
        load_corpus(CorpusConfig(source=str(p)))
    assert load_corpus(CorpusConfig(source=str(p), text_column="body")).words == ["red", "green", "blue"]
    with pytest.raises(W2VError, match="no column 'nope'.*title, body, n"):
        load_corpus(CorpusConfig(source=str(p), text_column="nope"))
    with pytest.raises(W2VError, match="does not hold text"):
        load_corpus(CorpusConfig(source=str(p), text_column="n"))


def test_only_string_column_is_used_whatever_its_name(tmp_path):
    p = tmp_path / "one.csv"
    p.write_text("n,sentence\n1,hello there\n2,general kenobi\n", encoding="utf-8")
    assert load_corpus(CorpusConfig(source=str(p))).words == ["hello", "there", "general", "kenobi"]


def test_no_text_column_is_an_error(tmp_path):
    p = tmp_path / "nums.parquet"
    datasets.Dataset.from_dict({"a": [1, 2], "b": [0.5, 1.5]}).to_parquet(str(p))
    with pytest.raises(W2VError, match="no text column"):
        load_corpus(CorpusConfig(source=str(p)))


def test_token_list_column_counts_as_pre_split_text(tmp_path):
    p = tmp_path / "toks"
    datasets.Dataset.from_dict({"tokens": [["New", "York", "is", "big"], ["so", "is", "Paris"]]}).save_to_disk(str(p))
    c = load_corpus(CorpusConfig(source=str(p)))
    assert c.doc_tokens(0) == ["new", "york", "is", "big"] and c.n_docs == 2


def test_nulls_are_skipped(tmp_path):
    p = tmp_path / "nulls.jsonl"
    p.write_text('{"text": "one two"}\n{"text": null}\n{"text": "three"}\n', encoding="utf-8")
    c = load_corpus(CorpusConfig(source=str(p)))
    assert c.words == ["one", "two", "three"] and c.n_docs == 2


def test_latin1_local_files_are_read_in_their_encoding(tmp_path):
    for name, data in [("l.txt", b"caf\xe9 ole\n"), ("l.csv", b"text\ncaf\xe9 ole\n"),
                       ("l.jsonl", b'{"text": "caf\xe9 ole"}\n')]:
        p = tmp_path / name
        p.write_bytes(data)
        c = load_corpus(CorpusConfig(source=str(p)))
        assert c.words == ["café", "ole"], name


def test_bad_local_files_give_clear_errors(tmp_path):
    folder = tmp_path / "plain-folder"
    folder.mkdir()
    with pytest.raises(W2VError, match="save_to_disk"):
        load_corpus(CorpusConfig(source=str(folder)))
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(W2VError, match="empty"):
        load_corpus(CorpusConfig(source=str(tmp_path / "empty.csv")))
    (tmp_path / "bin.txt").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(W2VError, match="binary"):
        load_corpus(CorpusConfig(source=str(tmp_path / "bin.txt")))
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    with pytest.raises(W2VError, match="Could not read broken.parquet"):
        load_corpus(CorpusConfig(source=str(tmp_path / "broken.parquet")))
    (tmp_path / "nums.txt").write_text("1 2 3\n, . !\n", encoding="utf-8")
    with pytest.raises(W2VError, match="no words"):
        load_corpus(CorpusConfig(source=str(tmp_path / "nums.txt")))


def test_dataset_files_are_cached_like_other_sources(ds, tmp_path, monkeypatch):
    p = str(_write(ds, tmp_path, "parquet"))
    first = load_corpus(CorpusConfig(source=p))
    monkeypatch.setattr(sources, "open_dataset", lambda *a, **k: pytest.fail("re-read a cached corpus"))
    assert load_corpus(CorpusConfig(source=p)).words == first.words


# ---------------------------------------------------------------------------------------------- uploads


def test_uploads_of_every_type_load_and_train_can_reload_them(ds, tmp_path):
    for kind in ("txt", "csv", "jsonl", "parquet"):
        data = _write(ds, tmp_path, kind).read_bytes()
        path = sources.save_upload(data, f"My Upload.{kind}")
        assert path.parent == sources.uploads_dir() and path.suffix == f".{kind}"
        c = load_corpus(CorpusConfig(source=str(path)))
        assert "cat" in c.words and "hat" in c.words
        assert sources.save_upload(data, f"My Upload.{kind}") == path  # same bytes, same file


def test_load_upload_applies_options():
    c = load_upload(b"alpha beta 42\ngamma\n", "a.txt", CorpusConfig(keep_numbers=True))
    assert c.words == ["alpha", "beta", "42", "gamma"]


def test_upload_checks():
    with pytest.raises(W2VError, match="the limit is"):
        sources.save_upload(b"x" * 2000, "big.txt", max_bytes=1000)
    with pytest.raises(W2VError, match="empty"):
        sources.save_upload(b"", "e.csv")
    with pytest.raises(W2VError, match="empty"):
        sources.save_upload(b" \n\n ", "e.txt")
    with pytest.raises(W2VError, match="binary"):
        sources.save_upload(b"\x00\x01\x02junk" * 100, "junk.txt")
    with pytest.raises(W2VError, match="Parquet"):
        sources.save_upload(b"hello", "fake.parquet")
    with pytest.raises(W2VError, match=r"\.txt, \.csv"):
        sources.save_upload(b"hello", "notes.docx")


def test_latin1_upload_is_decoded_and_stored_as_utf8():
    path = sources.save_upload("text\nnaïve café\n".encode("latin-1"), "latin.csv")
    assert path.read_bytes().decode("utf-8") == "text\nnaïve café\n"
    assert load_corpus(CorpusConfig(source=str(path))).words == ["naïve", "café"]


def test_bom_does_not_rename_the_first_csv_column():
    path = sources.save_upload("\ufefftext,n\nhello world,1\n".encode("utf-8"), "bom.csv")
    assert load_corpus(CorpusConfig(source=str(path))).words == ["hello", "world"]


def test_pasted_text():
    path = sources.save_pasted_text("first document\nsecond one\n")
    c = load_corpus(CorpusConfig(source=str(path)))
    assert c.n_docs == 2 and c.words == ["first", "document", "second", "one"]
    with pytest.raises(W2VError, match="empty"):
        sources.save_pasted_text("   \n")


def test_a_utf16_upload_is_text_not_binary(tmp_path):
    """UTF-16 has NUL bytes in every ASCII character: its byte-order mark says it is text, and it is stored as UTF-8."""
    p = sources.save_upload("café au lait\nsecond line\n".encode("utf-16"), "notes.txt", folder=tmp_path)
    assert p.read_text(encoding="utf-8") == "café au lait\nsecond line\n"
