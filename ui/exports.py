"""Downloads: a model folder as a zip, the files the TensorFlow Embedding Projector loads, a map's coordinates.

The zips are cached per folder version (``store.mtime_stamp``), so the Models page does not rebuild them on every rerun.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from w2v_core import store


def projector_zip(path: str | os.PathLike) -> bytes:
    """vectors.tsv + metadata.tsv for projector.tensorflow.org ("Load" takes both), in one zip to download."""
    with tempfile.TemporaryDirectory() as d:
        files = store.export_model(path, "projector", d)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in files:
                z.write(f, f.name)
        return buf.getvalue()


@st.cache_data(max_entries=8, show_spinner=False)
def model_zip_cached(path: str, stamp: int) -> bytes:
    """The whole model folder as a zip (``stamp``: see ``store.mtime_stamp``)."""
    return store.zip_model(path)


@st.cache_data(max_entries=8, show_spinner=False)
def projector_zip_cached(path: str, stamp: int) -> bytes:
    """:func:`projector_zip`, once per folder version."""
    return projector_zip(path)


def coordinates_csv(frame: pd.DataFrame) -> str:
    """A map's table as CSV (word, coordinates, count, rank, colour column), without display-only columns."""
    return frame.drop(columns=["highlight"], errors="ignore").to_csv(index=False)


def coordinates_file_name(model_path: str | os.PathLike, method: str, dims: int) -> str:
    return f"{Path(model_path).name}-{method}-{dims}d.csv"
