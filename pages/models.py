"""Models: every saved model with its card; choose the current one, rename, delete, share, import, export.

On a server a class shares, a visitor sees their own workspace's models (which they may change) and the operator's
gallery (which nobody changes here); a damaged folder is listed as broken, with its Delete button.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from ui import cards, continue_view, exports, session, shell
from ui.job import current_job
from ui.widgets import PERSIST, guarded, md_escape, show_error
from w2v_core import store
from w2v_core.errors import W2VError
from w2v_core.serve import quota

shell.require_app()

ss = st.session_state
MAX_VECTORS_UPLOAD_MB = 200  # Streamlit refuses larger uploads unless server.maxUploadSize is raised

root = session.models_root()
st.title(":material/inventory_2: Models")
if session.shared():
    st.caption("Your models are private: only this tab's link (keep it to come back) opens them. Models in the "
               "class gallery are shared with everyone and cannot be changed here.")
else:
    st.caption(f"Saved under {md_escape(root)} (set W2V\\_MODELS\\_DIR to change it). A model folder holds JSON, "
               "TSV, text and .safetensors files only: no pickle, nothing that runs code when opened.")
usage = quota.usage("models", root)
if usage.limit:
    st.progress(min(usage.fraction or 0.0, 1.0), text=f"Disk space for your models: {usage.describe()}")
    st.caption("When it is full, the least recently used models are removed to make room for new ones.")
else:
    st.caption(f"Disk space: {usage.describe()}")
if session.shared():
    st.caption(f"Your uploaded corpora: {quota.usage('uploads', session.uploads_folder()).describe()}")

# what just happened goes in here, always one element: a message coming or going must not move the tabs below, or
# the browser draws new tabs and the visitor is thrown back from Import to "Your models"
notices = st.container()
flash = ss.pop("models_flash", None)
if flash:
    notices.success(flash, icon=":material/check_circle:")
run = current_job()
evicted = run.state().evicted if run is not None else []
if evicted:
    notices.info(f"To stay within the disk quota, the last training run removed {len(evicted)} older, least recently used "
            "model(s) or upload(s).", icon=":material/auto_delete:")

own = session.own_records(broken=True)
gallery = session.gallery_records()
current = session.current_path()


@guarded  # a callback runs before the page, outside app.py's page_errors
def make_current(path: str, name: str) -> None:
    session.set_current_model(path)
    ss["models_flash"] = f"'{md_escape(name)}' is now the current model."


@guarded
def do_rename(path: str, key: str) -> None:
    new = ss.get(key, "").strip()
    try:
        if "/" in new or "\\" in new:  # it reads like a folder path, and the folder would not move
            raise W2VError("A model name cannot contain '/' or '\\': it is a name, not a folder (the folder keeps "
                           "its name); use '-' instead.")
        store.rename_model(path, new)
        ss["models_flash"] = f"Renamed to '{md_escape(new)}'."
    except W2VError as e:
        ss["models_error"] = str(e)


@guarded
def do_delete(path: str, name: str) -> None:
    try:
        store.delete_model(path)
    except W2VError as e:
        ss["models_error"] = str(e)
        return
    if ss.get(session.CURRENT) == path:
        session.set_current_model(session.newest_model_path())
    ss["models_flash"] = f"Deleted '{md_escape(name)}'."


def imported(result: tuple[Path, list[Path]]) -> None:
    """A new model from an import (room was made for it first within the quota): it becomes the current one."""
    path, gone = result
    name = store.read_record(path).name
    session.set_current_model(str(path))
    ss["models_flash"] = (f"Imported '{md_escape(name)}'; it is now the current model."
                          + (f" To stay within the disk quota, {len(gone)} least recently used model(s) were removed."
                             if gone else ""))
    st.rerun()


err = ss.pop("models_error", None)
if err:
    with notices:
        show_error(err)


def actions(rec: store.ModelRecord, i: int, mine: bool) -> None:
    """The buttons under a card: use, download, export; rename and delete for one's own models."""
    p = str(rec.path)
    row = st.container(horizontal=True, gap="small")
    row.button("Use this model", key=f"models_use_{i}", on_click=make_current, args=(p, rec.name),
               disabled=p == current, icon=":material/check:", help="Make it the model every page shows.")
    row.download_button("Download zip", lambda p=p, s=rec.mtime_stamp: exports.model_zip_cached(p, s),
                        file_name=f"{rec.path.name}.zip", mime="application/zip", key=f"models_zip_{i}",
                        icon=":material/download:", on_click="ignore",
                        help="The whole model folder; upload it back here or on another machine.")
    row.download_button("Embedding Projector", lambda p=p, s=rec.mtime_stamp: exports.projector_zip_cached(p, s),
                        file_name=f"{rec.path.name}-projector.zip", mime="application/zip",
                        key=f"models_projector_{i}", icon=":material/public:", on_click="ignore",
                        help="vectors.tsv + metadata.tsv: load both at projector.tensorflow.org ('Load').")
    continue_view.continue_button(row, p, f"models_continue_{i}")  # a gallery model's child is saved as one's own
    if not mine:
        return
    with row.popover("Rename", icon=":material/edit:"):
        rk = f"models_new_name_{i}"
        st.text_input("New name", value=rec.name, key=rk,
                      help="The name every page shows. The folder keeps its name "
                           f"({md_escape(rec.path.name)}), so links and scripts that use it still work.")
        st.button("Rename", key=f"models_rename_{i}", on_click=do_rename, args=(p, rk))
    delete_button(rec, i, row)


def delete_button(rec: store.ModelRecord, i: int, row) -> None:
    with row.popover("Delete", icon=":material/delete:"):
        st.markdown(f"Delete **{md_escape(rec.name)}** for good?")
        st.button("Yes, delete", key=f"models_delete_{i}", on_click=do_delete, args=(str(rec.path), rec.name),
                  type="primary")


tabs = [f":material/list: Your models ({len(own)})"] + ([f":material/collections_bookmark: Gallery ({len(gallery)})"]
                                                        if gallery else []) + [":material/upload: Import"]
tab_list, *tab_gallery, tab_import = st.tabs(tabs)

with tab_list:
    if not own:
        st.info("No saved models yet: train one, or import a zip or a vectors file in the Import tab.",
                icon=":material/info:")
        shell.link("train", "Train a model", ":material/model_training:")
    for i, rec in enumerate(own):
        with st.container(border=True):
            if rec.ok:
                cards.model_card(rec, current=str(rec.path) == current, border=False)
                actions(rec, i, mine=True)
                if continue_view.lineage_line(rec):
                    continue_view.what_changed_view(rec, f"models_changed_{i}")
            else:
                cards.broken_card(rec)
                delete_button(rec, i, st.container(horizontal=True))

for tab in tab_gallery:
    with tab:
        st.caption("Models your teacher or the server's operator put here for everyone: open, download and compare "
                   "them; they cannot be renamed or deleted here.")
        for j, rec in enumerate(gallery):
            with st.container(border=True):
                cards.model_card(rec, current=str(rec.path) == current, border=False)
                actions(rec, len(own) + j, mine=False)

with tab_import:
    c1, c2 = st.columns(2, gap="large")
    with c1.container(border=True):
        st.markdown("##### :material/folder_zip: A model zip")
        st.caption("A zip made with **Download zip** (here or on another machine). Every file is checked; "
                   "pickle files are refused.")
        up = st.file_uploader("Model zip", type=["zip"], key="models_zip_upload")
        if up is not None and st.button("Import model", key="models_import_zip", icon=":material/upload:"):
            try:
                imported(quota.import_zip(up.getvalue(), root, keep=[current] if current else []))
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
                show_error(f"The file is larger than {MAX_VECTORS_UPLOAD_MB} MB. Keep fewer words (for example the "
                           "first 100,000 lines of glove.txt) and upload that.")
            else:
                suffix = Path(upv.name).suffix or ".txt"
                with tempfile.TemporaryDirectory() as d:
                    src = Path(d) / (Path(upv.name).stem + suffix)
                    src.write_bytes(data)
                    try:
                        result = quota.import_vectors(src, root, [current] if current else [],
                                                      name.strip() or None, int(limit) or None)
                    except W2VError as e:
                        show_error(e)
                    else:
                        imported(result)
