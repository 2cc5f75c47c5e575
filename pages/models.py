"""Models: every saved model with its card; choose the current one, rename, delete, share, import, export."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from pages import _ui
from w2v_core import store
from w2v_core.errors import W2VError

ss = st.session_state
MAX_VECTORS_UPLOAD_MB = 200  # Streamlit refuses larger uploads unless server.maxUploadSize is raised

st.title(":material/inventory_2: Models")
st.caption(f"Saved under `{store.models_dir()}` (set `W2V_MODELS_DIR` to change it). A model folder holds JSON, TSV, "
           "text and .safetensors files only: no pickle, nothing that runs code when opened.")

flash = ss.pop("models_flash", None)
if flash:
    st.success(flash, icon=":material/check_circle:")

models = store.list_records()
current = ss.get("current_model")


@st.cache_data(max_entries=8, show_spinner=False)
def zipped(path: str, stamp: int) -> bytes:
    return store.zip_model(path)


@st.cache_data(max_entries=8, show_spinner=False)
def projector_zip(path: str, stamp: int) -> bytes:
    return _ui.projector_zip(path)


def make_current(path: str) -> None:
    _ui.set_current_model(path)
    ss["models_flash"] = f"'{Path(path).name}' is now the current model."


def do_rename(path: str, key: str) -> None:
    try:
        store.rename_model(path, ss.get(key, ""))
        ss["models_flash"] = f"Renamed to '{ss.get(key, '').strip()}'."
    except W2VError as e:
        ss["models_error"] = str(e)


def do_delete(path: str) -> None:
    try:
        store.delete_model(path)
    except W2VError as e:
        ss["models_error"] = str(e)
        return
    if ss.get("current_model") == path:
        _ui.set_current_model(_ui.newest_model_path())
    ss["models_flash"] = f"Deleted '{Path(path).name}'."


err = ss.pop("models_error", None)
if err:
    _ui.show_error(err)

tab_list, tab_import = st.tabs([f":material/list: Saved models ({len(models)})", ":material/upload: Import"])

with tab_list:
    if not models:
        st.info("No saved models yet: train one, or import a zip or a vectors file in the Import tab.",
                icon=":material/info:")
        _ui.link("train", "Train a model", ":material/model_training:")
    for i, info in enumerate(models):
        p = str(info.path)
        is_current = p == current
        with st.container(border=True):
            _ui.model_card(info, current=is_current, border=False)
            row = st.container(horizontal=True, gap="small")
        row.button("Use this model", key=f"btn_use_{i}", on_click=make_current, args=(p,), disabled=is_current,
                    icon=":material/check:",
                    help="Make it the model every page shows.")
        stamp = _ui.stamp(p)
        row.download_button("Download zip", lambda p=p, s=stamp: zipped(p, s), file_name=f"{info.path.name}.zip",
                             mime="application/zip", key=f"btn_zip_{i}", icon=":material/download:", on_click="ignore",
                             help="The whole model folder; upload it back here or on another machine.")
        row.download_button("Embedding Projector", lambda p=p, s=stamp: projector_zip(p, s),
                             file_name=f"{info.path.name}-projector.zip", mime="application/zip", key=f"btn_proj_{i}",
                             icon=":material/public:", on_click="ignore",
                             help="vectors.tsv + metadata.tsv: load both at projector.tensorflow.org ('Load').")
        with row.popover("Rename", icon=":material/edit:"):
            rk = f"rename_{i}"
            st.text_input("New name", value=info.name, key=rk)
            st.button("Rename", key=f"btn_rename_{i}", on_click=do_rename, args=(p, rk))
        with row.popover("Delete", icon=":material/delete:"):
            st.write(f"Delete **{info.name}** for good?")
            st.button("Yes, delete", key=f"btn_delete_{i}", on_click=do_delete, args=(p,), type="primary")

with tab_import:
    c1, c2 = st.columns(2, gap="large")
    with c1.container(border=True):
        st.markdown("##### :material/folder_zip: A model zip")
        st.caption("A zip made with **Download zip** (here or on another machine). Every file is checked; "
                   "pickle files are refused.")
        up = st.file_uploader("Model zip", type=["zip"], key="up_model_zip")
        if up is not None and st.button("Import model", key="btn_import_zip", icon=":material/upload:"):
            try:
                path = store.import_zip(up.getvalue())
                make_current(str(path))
                ss["models_flash"] = f"Imported '{path.name}'; it is now the current model."
                st.rerun()
            except W2VError as e:
                _ui.show_error(e)
    with c2.container(border=True):
        st.markdown("##### :material/text_snippet: word2vec / GloVe vectors")
        st.caption("A text file with a word and its numbers on each line (word2vec's format, with or without the "
                   "'count dim' header line, as GloVe writes it) or word2vec's binary format.")
        upv = st.file_uploader("Vectors file", type=["txt", "vec", "bin"], key="up_vectors")
        limit = st.number_input("Keep the first N words (0 = all)", 0, 5_000_000, 0, step=10_000, key="w_imp_limit", persist_state="session",
                                help="Big files (GloVe has 400k words) load faster with a limit; files list frequent "
                                     "words first.")
        name = st.text_input("Name (optional)", key="w_imp_name", persist_state="session")
        if upv is not None and st.button("Import vectors", key="btn_import_vec", icon=":material/upload:"):
            data = upv.getvalue()
            if not data.strip():
                _ui.show_error("The uploaded file is empty: choose a vectors file with a word and numbers per line.")
            elif len(data) > MAX_VECTORS_UPLOAD_MB * 1024**2:
                _ui.show_error(f"The file is larger than {MAX_VECTORS_UPLOAD_MB} MB. Keep fewer words (e.g. "
                               "`head -n 100000 glove.txt > glove-100k.txt`) and upload that.")
            else:
                suffix = Path(upv.name).suffix or ".txt"
                with tempfile.TemporaryDirectory() as d:
                    src = Path(d) / (Path(upv.name).stem + suffix)
                    src.write_bytes(data)
                    try:
                        path = store.import_vectors(src, name=name.strip() or None, limit=int(limit) or None)
                        make_current(str(path))
                        ss["models_flash"] = f"Imported '{path.name}'; it is now the current model."
                        st.rerun()
                    except W2VError as e:
                        _ui.show_error(e)
