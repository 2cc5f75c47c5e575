"""WikiText-2 and WikiText-103 (raw) through Hugging Face ``datasets``, failing fast without the Hub.

``datasets.load_dataset("Salesforce/wikitext", "wikitext-2-raw-v1", split=...)`` downloads the data once
and keeps it in the ``datasets`` cache. Without a network it keeps retrying before it gives up, which feels
like a hang. So, in order:

1. Ask the local ``datasets`` cache, in offline mode (no network at all).
2. If offline mode is on (``HF_HUB_OFFLINE=1`` / ``HF_DATASETS_OFFLINE=1``), stop with a message.
3. Probe the Hub's host with a plain TCP connection, in a daemon thread joined with a timeout (DNS
   lookups have no timeout of their own), and stop with a one-line message if it does not answer.
4. Download with ``load_dataset``; a connection error still becomes the same one-line message.

WikiText is by Merity et al. (2016), "Pointer Sentinel Mixture Models", from Wikipedia's Good and
Featured articles (CC BY-SA).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Iterator
from urllib.parse import urlparse

from w2v_core.data.corpus import WIKITEXT, Corpus, CorpusConfig, ProgressFn, from_texts
from w2v_core.data.sources import iter_column_texts
from w2v_core.errors import W2VError

log = logging.getLogger(__name__)

REPO = "Salesforce/wikitext"
CONFIGS = {"wikitext-2": "wikitext-2-raw-v1", "wikitext-103": "wikitext-103-raw-v1"}
assert set(CONFIGS) == set(WIKITEXT)
PROBE_TIMEOUT = 3.0  # seconds
_TRUE = {"1", "ON", "YES", "TRUE"}
_offline_lock = threading.RLock()


class HubUnavailable(W2VError):
    """The Hugging Face Hub could not be reached and the dataset is not in the local cache.

    A subclass so that the app can offer the bundled sample instead; the CLI prints it like any W2VError.
    """


def offline_mode() -> bool:
    """True when the user switched the Hub off (``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE``)."""
    return any(os.environ.get(v, "").strip().upper() in _TRUE for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def hub_address() -> tuple[str, int]:
    """Host and port to probe: the proxy when one is set (that is what a download goes through), else the Hub."""
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    u = urlparse(proxy if proxy else endpoint)
    if not u.hostname:
        u = urlparse("https://huggingface.co")
    return u.hostname, u.port or (443 if u.scheme == "https" else 80)


def _connect(host: str, port: int, timeout: float) -> None:
    with socket.create_connection((host, port), timeout=timeout):
        pass


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool:
    """Can we open a TCP connection to the Hub within ``timeout`` seconds (DNS included)?"""
    host, port = hub_address()
    result: list[bool] = []

    def probe() -> None:
        try:
            _connect(host, port, timeout)
            result.append(True)
        except OSError as e:
            log.info("Hub probe %s:%s failed: %s", host, port, e)
            result.append(False)

    t = threading.Thread(target=probe, name="hub-probe", daemon=True)
    t.start()
    t.join(timeout)
    return bool(result and result[0])


def _pretty(name: str, split: str) -> str:
    return f"{name.replace('wikitext', 'WikiText')} ({split})"


def unreachable_message(name: str, split: str = "train") -> str:
    host, _ = hub_address()
    return (f"Could not reach the Hugging Face Hub ({host}) to download {_pretty(name, split)}, and it is not in the "
            f"local datasets cache: check the network, or use the bundled corpus (--corpus sample).")


@contextlib.contextmanager
def _datasets_offline():
    """Switch ``datasets`` (and ``huggingface_hub``) to offline mode for a cache-only lookup.

    ``datasets`` reads ``HF_HUB_OFFLINE`` once at import, so setting the environment is not enough. The
    switch is process-wide, hence the (re-entrant) lock.
    """
    import datasets.config as dcfg

    try:
        import huggingface_hub.constants as hcfg
    except ImportError:  # pragma: no cover - datasets depends on huggingface_hub
        hcfg = None
    with _offline_lock:
        old = dcfg.HF_HUB_OFFLINE, getattr(hcfg, "HF_HUB_OFFLINE", None)
        dcfg.HF_HUB_OFFLINE = True
        if hcfg is not None:
            hcfg.HF_HUB_OFFLINE = True
        try:
            yield
        finally:
            dcfg.HF_HUB_OFFLINE = old[0]
            if hcfg is not None:
                hcfg.HF_HUB_OFFLINE = old[1]


def _load_dataset(name: str, split: str, cache_dir: str | None = None):
    import datasets

    return datasets.load_dataset(REPO, CONFIGS[name], split=split, cache_dir=cache_dir)


def load_cached(name: str, split: str = "train", cache_dir: str | None = None):
    """The WikiText split from the local ``datasets`` cache, without any network; None if it is not there."""
    try:
        with _datasets_offline():
            return _load_dataset(name, split, cache_dir)
    except Exception as e:  # noqa: BLE001 - not cached, or cached without this split: both mean "download"
        log.info("%s not in the local datasets cache: %s", _pretty(name, split), str(e).splitlines()[0] if str(e) else e)
        return None


def load_wikitext(name: str, split: str = "train", cache_dir: str | None = None,
                  probe_timeout: float = PROBE_TIMEOUT):
    """A WikiText split as a ``datasets.Dataset`` (column ``text``: one line of an article per row).

    Why the order (cache, offline switch, probe, download): a cached dataset must work offline, and a
    missing Hub must be reported in seconds, not after the library's retries.
    """
    if name not in CONFIGS:
        raise W2VError(f"Unknown WikiText corpus '{name}': choose one of {', '.join(CONFIGS)}.")
    t = time.perf_counter()
    ds = load_cached(name, split, cache_dir)
    if ds is not None:
        log.info("%s from the local datasets cache (%.2fs)", _pretty(name, split), time.perf_counter() - t)
        return ds
    if offline_mode():
        raise HubUnavailable(f"{_pretty(name, split)} is not in the local datasets cache and the Hub is switched off "
                             f"(HF_HUB_OFFLINE=1): unset it to download, or use the bundled corpus (--corpus sample).")
    if not hub_reachable(probe_timeout):
        raise HubUnavailable(unreachable_message(name, split))
    log.info("downloading %s from the Hugging Face Hub", _pretty(name, split))
    try:
        with _offline_lock:  # no cache lookup may flip the offline switch mid-download; a second caller waits, then hits the cache
            ds = load_cached(name, split, cache_dir)
            return ds if ds is not None else _load_dataset(name, split, cache_dir)
    except (ConnectionError, TimeoutError, socket.gaierror) as e:
        raise HubUnavailable(unreachable_message(name, split)) from e
    except OSError as e:
        if "connect" in str(e).lower() or "timed out" in str(e).lower():
            raise HubUnavailable(unreachable_message(name, split)) from e
        raise W2VError(f"Could not load {_pretty(name, split)} from the Hub: {e}. Try again, or use --corpus sample.") from e


def iter_texts(ds, batch_size: int = 10_000) -> Iterator[str]:
    """The ``text`` column row by row, read in Arrow batches (never the whole column as one Python list)."""
    return iter_column_texts(ds, "text", batch_size)


def load_wikitext_corpus(config: CorpusConfig, progress: ProgressFn | None = None) -> Corpus:
    """Tokenize a WikiText split (headings dropped, `` @-@ `` joins undone) into a :class:`Corpus`."""
    if progress is not None:
        progress(0.0, f"opening {_pretty(config.source, config.split)}")
    ds = load_wikitext(config.source, config.split)
    name = f"{config.source} ({config.split}, Salesforce/wikitext raw)"
    return from_texts(iter_texts(ds), name, config, progress, total=len(ds))
