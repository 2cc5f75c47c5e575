"""Local corpus files: special files refused at once (never opened), text in other encodings decoded correctly."""

from __future__ import annotations

import os
import socket

import pytest

from tests.conftest import returns_within
from w2v_core.data import textfile
from w2v_core.data.corpus import CorpusConfig
from w2v_core.data.loader import load_corpus
from w2v_core.errors import W2VError


@pytest.fixture
def special_files(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    sock_path = tmp_path / "s.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(sock_path))
    yield {"named pipe": fifo, "socket": sock_path, "character device": "/dev/zero"}
    sock.close()


@pytest.mark.parametrize("kind", ["named pipe", "socket", "character device"])
def test_special_files_are_refused_without_being_opened(kind, special_files):
    path = special_files[kind]
    with pytest.raises(W2VError, match=kind) as e:
        returns_within(lambda: load_corpus(CorpusConfig(source=str(path))))
    assert "\n" not in str(e.value)
    with pytest.raises(W2VError, match=kind):
        returns_within(lambda: textfile.text_encoding(path))


def _words(tmp_path, data: bytes, name: str = "c.txt") -> list[str]:
    p = tmp_path / name
    p.write_bytes(data)
    return sorted(load_corpus(CorpusConfig(source=str(p)), use_cache=False).words)


@pytest.mark.parametrize("text,encoding,expected", [
    ("café naïve résumé\n", "latin-1", "cp1252"),
    ("He said \u201chello\u201d \u2014 the café costs 5\u20ac\n", "cp1252", "cp1252"),
    ("café\n", "utf-8-sig", "utf-8-sig"),
    ("café naïve\n", "utf-16", "utf-16"),
    ("Привет мир, как дела у тебя сегодня? Хорошо, спасибо. " * 10 + "\n", "cp1251", "cp1251"),
])
def test_text_in_other_encodings_is_decoded_and_says_which(text, encoding, expected, tmp_path, caplog):
    p = tmp_path / "t.txt"
    p.write_bytes(text.encode(encoding))
    assert textfile.text_encoding(p) == expected
    assert "".join(textfile.read_lines(p)) == text
    words = _words(tmp_path, text.encode(encoding))
    assert "\ufeff" not in "".join(words) and "\ufffd" not in "".join(words)
    if expected.startswith("cp"):
        assert f"read as {expected}" in caplog.text


def test_a_byte_windows_1252_leaves_undefined_is_read_as_latin1(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(b"caf\xe9 \x81 ole\n")
    assert textfile.text_encoding(p) == "latin-1"
    assert _words(tmp_path, p.read_bytes()) == ["café", "ole"]


def test_a_non_utf8_byte_deep_in_a_large_file_is_found(tmp_path):
    data = b"plain ascii words here\n" * 200_000 + "café\n".encode("latin-1")  # past the 4 MB sample
    assert len(data) > textfile.SAMPLE_BYTES
    assert "café" in _words(tmp_path, data)


@pytest.mark.parametrize("data,expected", [(b"", "empty"), (bytes(range(256)) * 40, "binary")])
def test_empty_and_binary_files_are_refused(data, expected, tmp_path):
    with pytest.raises(W2VError, match=expected):
        _words(tmp_path, data)


def test_uploads_decode_the_same_way():
    assert textfile.decode_bytes("naïve".encode("latin-1"), "x.txt") == ("naïve", "cp1252")
    assert textfile.decode_bytes("naïve".encode("utf-8"), "x.txt") == ("naïve", "utf-8")
    with pytest.raises(W2VError, match="binary"):
        textfile.decode_bytes(b"\x00\x01\x02" * 100, "x.bin")
