"""Streamlit-only helpers the page scripts share (the library, ``w2v_core``, never imports these).

* ``shell``: the app frame: page files by role, links between pages, the stylesheet, and the one call every
  page script makes first (:func:`ui.shell.require_app`).
* ``session``: this session's current model (a path in ``st.session_state``), loaded once per version.
* ``job``: this session's training run in the background: the job id in the URL, reattaching after a browser
  refresh, the sidebar status.
* ``widgets``: first values and ranges of widgets that persist, what users type as words, error boxes.
* ``cards``: a model's card (name, corpus, settings, loss, time, scores) from its ``store.ModelRecord``.
* ``corpus_picker``: the corpus picker shared by the Corpus and Train pages, and the cached corpus loads.
* ``charts``: loss charts (the Train page's live one, the Compare page's saved curves).
* ``exports``: downloads (a model zip, the Embedding Projector files, a map's coordinates).
* ``learn_steps``: the Learn page's five steps, one function each (``learn_draw``: what they draw).
* ``map_state``, ``map_view``, ``map_panels``, ``map_learn``: the Map page's view in the URL and its chart events,
  its cached projections and figure, the panels around the chart, and the replay of a training run.
"""
