"""Models: every saved model with its card; choose the current one, rename, delete, share, import, export."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from ui import cards, exports, shell
from ui.session import CURRENT, newest_model_path, set_current_model
from ui.widgets import PERSIST, md_escape, show_error
from w2v_core import store
from w2v_core.errors import W2VError

shell.require_app()

ss = st.session_state
MAX_VECTORS_UPLOAD_MB = 200  # Streamlit refuses larger uploads unless server.maxUploadSize is raised

st.title(":material/inventory_2: Models")
st.caption(f"Saved under `{store.models_dir()}` (set `W2V_MODELS_DIR` to change it). A model folder holds JSON, TSV, "
           "text and .safetensors files only: no pickle, nothing that runs code when opened.")

flash = ss.pop("models_flash", None)
if flash:
    st.success(flash, icon=":material/check_circle:")

models = store.list_records()
current = ss.get(CURRENT)


def make_current(path: str) -> None:
    set_current_model(path)
    ss["models_flash"] = f"'{md_escape(Path(path).name)}' is now the current model."


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
    if ss.get(CURRENT) == path:
        set_current_model(newest_model_path())
    ss["models_flash"] = f"Deleted '{md_escape(Path(path).name)}'."


err = ss.pop("models_error", None)
if err:
    show_error(err)

tab_list, tab_import = st.tabs([f":material/list: Saved models ({len(models)})", ":material/upload: Import"])

with tab_list:
    if not models:
        st.info("No saved models yet: train one, or import a zip or a vectors file in the Import tab.",
                icon=":material/info:")
        shell.link("train", "Train a model", ":material/model_training:")
    for i, rec in enumerate(models):
        p = str(rec.path)
        is_current = p == current
        with st.container(border=True):
            cards.model_card(rec, current=is_current, border=False)
            row = st.container(horizontal=True, gap="small")
        row.button("Use this model", key=f"models_use_{i}", on_click=make_current, args=(p,), disabled=is_current,
                    icon=":material/check:",
                    help="Make it the model every page shows.")
        row.download_button("Download zip", lambda p=p, s=rec.stamp: exports.model_zip_cached(p, s),
                             file_name=f"{rec.path.name}.zip", mime="application/zip", key=f"models_zip_{i}",
                             icon=":material/download:", on_click="ignore",
                             help="The whole model folder; upload it back here or on another machine.")
        row.download_button("Embedding Projector", lambda p=p, s=rec.stamp: exports.projector_zip_cached(p, s),
                             file_name=f"{rec.path.name}-projector.zip", mime="application/zip",
                             key=f"models_projector_{i}", icon=":material/public:", on_click="ignore",
                             help="vectors.tsv + metadata.tsv: load both at projector.tensorflow.org ('Load').")
        with row.popover("Rename", icon=":material/edit:"):
            rk = f"models_new_name_{i}"
            st.text_input("New name", value=rec.name, key=rk)
            st.button("Rename", key=f"models_rename_{i}", on_click=do_rename, args=(p, rk))
        with row.popover("Delete", icon=":material/delete:"):
            st.markdown(f"Delete **{md_escape(rec.name)}** for good?")
            st.button("Yes, delete", key=f"models_delete_{i}", on_click=do_delete, args=(p,), type="primary")

with tab_import:
    c1, c2 = st.columns(2, gap="large")
    with c1.container(border=True):
        st.markdown("##### :material/folder_zip: A model zip")
        st.caption("A zip made with **Download zip** (here or on another machine). Every file is checked; "
                   "pickle files are refused.")
        up = st.file_uploader("Model zip", type=["zip"], key="models_zip_upload")
        if up is not None and st.button("Import model", key="models_import_zip", icon=":material/upload:"):
            try:
                path = store.import_zip(up.getvalue())
                make_current(str(path))
                ss["models_flash"] = f"Imported '{md_escape(path.name)}'; it is now the current model."
                st.rerun()
            except W2VError as e:
                show_error(e)
    with c2.container(border=True):
        st.markdown("##### :material/text_snippet: word2vec / GloVe vectors")
        st.caption("A text file with a word and its numbers on each line (word2vec's format, with or without the "
                   "'count dim' header line, as GloVe writes it) or word2vec's binary format.")
        upv = st.file_uploader("Vectors file", type=["txt", "vec", "bin"], key="models_vectors_upload")
        limit = st.number_input("Keep the first N words (0 = all)", 0, 5_000_000, 0, step=10_000,
                                key="models_import_limit", persist_state=PERSIST,
                                help="Big files (GloVe has 400k words) load faster with a limit; files list frequent "
                                     "words first.")
        name = st.text_input("Name (optional)", key="models_import_name", persist_state=PERSIST)
        if upv is not None and st.button("Import vectors", key="models_import_vectors", icon=":material/upload:"):
            data = upv.getvalue()
            if not data.strip():
                show_error("The uploaded file is empty: choose a vectors file with a word and numbers per line.")
            elif len(data) > MAX_VECTORS_UPLOAD_MB * 1024**2:
                show_error(f"The file is larger than {MAX_VECTORS_UPLOAD_MB} MB. Keep fewer words (e.g. "
                               "`head -n 100000 glove.txt > glove-100k.txt`) and upload that.")
            else:
                suffix = Path(upv.name).suffix or ".txt"
                with tempfile.TemporaryDirectory() as d:
                    src = Path(d) / (Path(upv.name).stem + suffix)
                    src.write_bytes(data)
                    try:
                        path = store.import_vectors(src, name=name.strip() or None, limit=int(limit) or None)
                        make_current(str(path))
                        ss["models_flash"] = f"Imported '{md_escape(path.name)}'; it is now the current model."
                        st.rerun()
                    except W2VError as e:
                        show_error(e)
