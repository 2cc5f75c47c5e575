"""Watch it learn: snapshots of the word vectors while a model trains, replayed as a map that forms.

``SnapshotRecorder`` is a training callback. It copies the input vectors of the most frequent words at
regular points of the run (every ``every`` of the training, at each epoch end, and at the very end), in
bounded memory: when it holds ``max_snapshots`` it keeps every other one and doubles its interval, so a
run of any length ends with between half and all of that many, spread evenly over the run.

Each snapshot lives in its own arbitrary basis (word2vec's dimensions mean nothing on their own), so to replay
them they are first rotated onto the final vectors by orthogonal Procrustes (``align.procrustes_align``),
then all projected into ONE 2-D/3-D frame fitted on the final vectors: PCA's axes are applied to every
snapshot; for t-SNE/UMAP (which cannot place new points exactly) each word of a snapshot is put at the
similarity-weighted mean of the final positions of its nearest final vectors, the way UMAP starts its own
``transform``. Then an animation shows words moving, not the whole picture spinning.

Snapshots are saved next to a model as ``snapshots.safetensors``: the arrays as tensors and the words and
other facts as JSON in the file's header, one file written atomically (never pickle).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from w2v_core.align import procrustes_align
from w2v_core.errors import W2VError
from w2v_core.store import SNAPSHOTS as SNAPSHOTS_FILE
from w2v_core.store import atomic_write_bytes, check_snapshots_file
from w2v_core.projection import _method, knn, normalize_rows, one_thread, project
from w2v_core.progress import Callback, Progress

log = logging.getLogger(__name__)

FORMAT, FORMAT_VERSION = "w2v-explorer-snapshots", 1


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class Snapshots:
    """K snapshots of the same N words (most frequent first) during one training run."""

    words: tuple[str, ...]
    vectors: np.ndarray  # (K, N, D) float32
    fraction: np.ndarray  # (K,) share of the run done, 0 = the random start, 1 = the end
    epoch: np.ndarray  # (K,) the epoch in progress (1-based), or just finished at an epoch end; 0 at the start
    loss: np.ndarray  # (K,) smoothed training loss then (the epoch's mean at an epoch end); NaN when none yet
    epoch_end: np.ndarray  # (K,) bool: taken at the end of an epoch
    epochs: int  # epochs the run was set to do

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def label(self, i: int) -> str:
        """How frame ``i`` is named on a slider: 'start', 'epoch 2 of 5 · 37 %', 'end of epoch 2 of 5'."""
        if self.fraction[i] <= 0:
            return "start"
        if self.epoch_end[i]:
            return f"end of epoch {int(self.epoch[i])} of {self.epochs}"
        return f"epoch {int(self.epoch[i])} of {self.epochs} · {100 * float(self.fraction[i]):.0f} %"


class SnapshotRecorder(Callback):
    """Keeps snapshots of the top ``max_words`` words' input vectors during training (see the module's doc).

    Memory is bounded by ``max_snapshots`` and ``max_bytes`` (whichever allows fewer, but at least 4).
    Safe to read from another thread while training runs (``snapshots()``), e.g. for a live map.
    """

    def __init__(self, max_words: int = 2000, max_snapshots: int = 40, every: float = 0.02,
                 max_bytes: int = 64 * 2**20, on_frame: Callable[..., None] | None = None):
        if max_words < 2 or max_snapshots < 4 or not 0 < every <= 1:
            raise ValueError("max_words >= 2, max_snapshots >= 4 and 0 < every <= 1")
        self.max_words, self.max_snapshots, self.max_bytes = max_words, max_snapshots, max_bytes
        # told (vectors, fraction, epoch, loss, epoch_end) of every snapshot taken: a training process sends them to
        # the server, whose own recorder keeps them (begin + add) for the live map and the replay file
        self.on_frame = on_frame
        self.first_every = self.every = every  # share of the run between snapshots; doubles when memory is full
        self._lock = threading.Lock()
        self._frames: list[tuple[np.ndarray, float, int, float, bool]] = []
        self._words: tuple[str, ...] = ()
        self._rows: np.ndarray | None = None
        self._copy_vectors: Callable[..., np.ndarray] | None = None
        self._epochs, self._cap, self._next = 0, max_snapshots, every
        self._last: tuple[float, int, float] = (0.0, 0, math.nan)

    # ----- the callback ------------------------------------------------------------------------------
    def on_train_begin(self, info: dict[str, Any]) -> None:
        words = list(info["words"])[: self.max_words]
        self._rows, self._copy_vectors = np.arange(len(words)), info["copy_vectors"]
        first = self._copy_vectors(self._rows)
        self.begin(words, int(info.get("epochs", 0)), first.nbytes)
        self._add(first, 0.0, 0, math.nan, False)

    def begin(self, words: Sequence[str], epochs: int, frame_bytes: int) -> None:
        """Start a run's record: its top ``words`` (at most ``max_words``), and the size of one snapshot."""
        with self._lock:
            self._words, self._epochs = tuple(words)[: self.max_words], int(epochs)
            self._cap = max(4, min(self.max_snapshots, self.max_bytes // max(int(frame_bytes), 1)))
            self._frames = []
            self.every = self._next = self.first_every

    def add(self, vectors: np.ndarray, fraction: float, epoch: int, loss: float, epoch_end: bool) -> None:
        """Keep a snapshot another recorder took (``on_frame``), as that recorder kept it."""
        self._add(vectors, fraction, epoch, loss, epoch_end, tell=False)

    def on_batch_end(self, progress: Progress) -> None:
        self._last = (progress.fraction, progress.epoch, progress.smoothed_loss)
        if progress.fraction >= self._next:
            self._add(self._copy_vectors(self._rows), progress.fraction, progress.epoch, progress.smoothed_loss, False)

    def on_epoch_end(self, epoch: int, epoch_loss: float, progress: Progress) -> None:
        self._last = (progress.fraction, epoch, epoch_loss)
        self._add(self._copy_vectors(self._rows), progress.fraction, epoch, epoch_loss, True)

    def on_train_end(self, result: Any) -> None:
        # a stopped run ends between reports: its final vectors become (or replace) the last snapshot
        fraction, epoch, loss = self._last
        last_end = bool(self._frames and self._frames[-1][4] and self._frames[-1][1] == fraction)
        self._add(self._copy_vectors(self._rows), fraction, epoch, loss, last_end)

    # ----- bounded memory ----------------------------------------------------------------------------
    def _add(self, vectors: np.ndarray, fraction: float, epoch: int, loss: float, epoch_end: bool,
             tell: bool = True) -> None:
        if tell and self.on_frame is not None:
            self.on_frame(vectors, float(fraction), int(epoch), float(loss), bool(epoch_end))
        with self._lock:
            if self._frames and fraction <= self._frames[-1][1]:  # same point of the run: the newer copy wins
                self._frames.pop()
            if len(self._frames) >= self._cap:
                self._frames = self._frames[::2]
                self.every *= 2
            self._frames.append((vectors, float(fraction), int(epoch), float(loss), bool(epoch_end)))
            self._next = fraction + self.every

    def nbytes(self) -> int:
        """About what the snapshots kept so far take in a file (their vectors and a header with the words)."""
        with self._lock:
            return sum(f[0].nbytes for f in self._frames) + sum(len(w) + 4 for w in self._words) + 4096

    def latest(self) -> tuple[tuple[str, ...], np.ndarray, float] | None:
        """The words and their newest snapshot (N x D) with its share of the run, or None before training starts:
        what a live view needs, without copying every snapshot kept."""
        with self._lock:
            if not self._frames:
                return None
            vectors, fraction = self._frames[-1][:2]
        return self._words, vectors, fraction

    def snapshots(self) -> Snapshots | None:
        """What was kept so far (None before training starts)."""
        with self._lock:
            frames = list(self._frames)
        if not frames:
            return None
        vecs, frac, ep, loss, end = zip(*frames)
        return Snapshots(self._words, np.stack(vecs), np.array(frac), np.array(ep, dtype=np.int64),
                         np.array(loss), np.array(end, dtype=bool), self._epochs)


# ---------------------------------------------------------------------------------------------- replay


def align(snaps: Snapshots, reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every snapshot's unit rows rotated onto ``reference`` (default: the last snapshot), and the mean residual
    of each (0 = the final geometry, ~1.4 = unrelated): a curve of how far each frame is from the end."""
    ref = snaps.vectors[-1] if reference is None else np.asarray(reference)
    out = np.empty(snaps.vectors.shape, dtype=np.float32)
    errors = np.empty(len(snaps))
    with one_thread():
        for i, V in enumerate(snaps.vectors):
            R, errors[i] = procrustes_align(V, ref)
            out[i] = normalize_rows(V) @ R
    return out, errors


def frame_coords(snaps: Snapshots, method: str = "pca", dims: int = 2, words: Sequence[str] | None = None,
                 seed: int = 0, neighbours: int = 10, **knobs: Any) -> np.ndarray:
    """Coordinates (K, n, dims) of ``words`` (default all) in every snapshot, in one frame fitted on the last.

    ``knobs`` go to ``projection.project`` (perplexity, n_neighbors, ...). The last frame is exactly the map of
    the final vectors; earlier ones are aligned (``align``) and placed by PCA's axes or, for t-SNE/UMAP, by the
    weighted mean of the final positions of their ``neighbours`` most similar final vectors.
    """
    m = _method(method)
    rows = _rows(snaps, words)
    frames = align(snaps)[0][:, rows]
    ref = frames[-1]
    if m == "pca":
        from sklearn.decomposition import PCA

        if len(rows) < dims + 1:
            raise W2VError(f"PCA in {dims}-D needs at least {dims + 1} words (got {len(rows)}); add more words.")
        with one_thread():
            fit = PCA(n_components=dims, svd_solver="full").fit(ref)
            return np.stack([fit.transform(f) for f in frames]).astype(np.float32)
    layout = project(ref, m, dims, seed=seed, **knobs)
    out = np.empty((len(frames), len(rows), dims), dtype=np.float32)
    out[-1] = layout
    tau = 0.05  # cosine units: a neighbour 0.1 less similar than the best counts e^-2 as much
    for i, f in enumerate(frames[:-1]):
        idx, sim = knn(ref.astype(np.float64), neighbours, queries=f.astype(np.float64))
        w = np.exp((sim - sim[:, :1]) / tau)
        out[i] = np.einsum("nk,nkd->nd", w / w.sum(1, keepdims=True), layout[idx])
    return out


def frame_neighbours(snaps: Snapshots, words: Sequence[str], n: int = 5) -> dict[str, list[list[tuple[str, float]]]]:
    """For each of ``words``, its ``n`` nearest words (cosine, among the snapshot's words) in every frame."""
    rows = _rows(snaps, words)
    out: dict[str, list[list[tuple[str, float]]]] = {w: [] for w in words}
    for V in snaps.vectors:
        Vn = normalize_rows(V)
        S = Vn[rows] @ Vn.T
        S[np.arange(len(rows)), rows] = -np.inf  # a word is not its own neighbour
        top = np.argsort(-S, axis=1, kind="stable")[:, :n]
        for w, t, s in zip(words, top, S):
            out[w].append([(snaps.words[j], float(s[j])) for j in t])
    return out


def _rows(snaps: Snapshots, words: Sequence[str] | None) -> np.ndarray:
    if words is None:
        return np.arange(len(snaps.words))
    index = {w: i for i, w in enumerate(snaps.words)}
    missing = [w for w in words if w not in index]
    if missing:
        raise W2VError(f"The training snapshots keep the {len(snaps.words):,} most frequent words only; "
                       f"{', '.join(missing[:5])} {'is' if len(missing) == 1 else 'are'} not among them. "
                       "Pick more frequent words.")
    return np.array([index[w] for w in words], dtype=np.int64)


# ---------------------------------------------------------------------------------------------- files


def save_snapshots(folder: str | os.PathLike, snaps: Snapshots) -> Path:
    """Write ``snapshots.safetensors`` into a model folder (atomically: a reader sees the old file or the new)."""
    from safetensors.numpy import save

    folder = Path(folder)
    if not folder.is_dir():
        raise W2VError(f"Model folder not found: {folder}. Save the model first, then its snapshots.")
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "words": list(snaps.words), "epochs": snaps.epochs}
    tensors = {"vectors": np.ascontiguousarray(snaps.vectors, dtype=np.float32),
               "fraction": snaps.fraction.astype(np.float64), "epoch": snaps.epoch.astype(np.int64),
               "loss": snaps.loss.astype(np.float64), "epoch_end": snaps.epoch_end.astype(np.uint8)}
    path = folder / SNAPSHOTS_FILE
    atomic_write_bytes(path, save(tensors, metadata={"snapshots": json.dumps(meta)}))
    return path


def load_snapshots(folder: str | os.PathLike) -> Snapshots | None:
    """The snapshots saved in a model folder, or None when it has none (trained elsewhere, or before this).

    The file's header is checked first (:func:`check_snapshots_file`): frames, words and bytes are capped."""
    from safetensors import SafetensorError
    from safetensors.numpy import safe_open

    path = Path(folder) / SNAPSHOTS_FILE
    if not path.is_file():
        return None
    check_snapshots_file(path)
    damaged = W2VError(f"{path.parent.name}/{path.name} is damaged. Delete it (the model itself is fine) or train "
                       "the model again.")
    try:
        with safe_open(str(path), framework="np") as f:
            meta = json.loads((f.metadata() or {}).get("snapshots", "{}"))
            t = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise damaged from e
    if meta.get("format") != FORMAT or meta.get("version", 0) > FORMAT_VERSION:
        raise damaged
    try:
        s = Snapshots(tuple(meta["words"]), t["vectors"], t["fraction"], t["epoch"], t["loss"],
                      t["epoch_end"].astype(bool), int(meta["epochs"]))
    except KeyError as e:
        raise damaged from e
    K = len(s.fraction)
    if s.vectors.ndim != 3 or s.vectors.shape[:2] != (K, len(s.words)) or not (
            len(s.epoch) == len(s.loss) == len(s.epoch_end) == K):
        raise damaged
    return s
