"""This session's training run, which goes on in a worker thread while the user looks at other pages.

``st.session_state["train_job"]`` is this session's :class:`w2v_core.serve.jobs.TrainingJob` (or absent). Its registry
id rides in the tab's URL (``?job=...``) on every page, so a browser refresh, which starts a new session, finds
the run again (:func:`reattach_job`). Once a run has ended, its model becomes the current one, whatever page the
user is on (:func:`finish_job_if_done`, called through the sidebar status on every page).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import session
from ui.widgets import guarded
from w2v_core import store
from w2v_core.serve import jobs

JOB = "train_job"  # session state: this session's TrainingJob
HANDLED = "train_job_handled"  # session state: id() of the job whose end has been handled
REATTACHED = "train_job_reattached"  # session state: set when a refresh found the job (the Train page shows its knobs)
LOST = "train_job_lost"  # session state: the URL named a run this server no longer has (say so once)
JOB_PARAM = "job"  # the URL query parameter that holds this tab's training job id


def current_job() -> jobs.TrainingJob | None:
    return st.session_state.get(JOB)


def remember_job(job: jobs.TrainingJob) -> None:
    """Make ``job`` this session's run and put its registry id into the tab's URL."""
    job_id = job.job_id or jobs.REGISTRY.register(job)
    st.session_state[JOB] = job
    st.session_state.pop(HANDLED, None)
    st.query_params[JOB_PARAM] = job_id


def reattach_job() -> None:
    """A refreshed tab (a new session) finds its training run again through the job id in its URL.

    Only the id in this tab's own URL is looked up, and ids are random: nobody else's run can be reached, and
    jobs are never listed; on a shared server a run is only taken up by a session of the workspace it saves into.
    A run that had already ended before the refresh is shown, but does not take the current model back (the user
    may have chosen another since). While the session's registered job runs, its id is kept in the URL on every
    page (page switches drop query parameters), so a refresh anywhere works; once it has ended the id is no longer
    put back, so the browser's back button leaves ``?job=`` pages behind.
    """
    ss = st.session_state
    job = ss.get(JOB)
    wanted = st.query_params.get(JOB_PARAM)
    if job is None:
        if not wanted:
            return
        job = jobs.REGISTRY.find(wanted)
        if job is None or not _saves_here(job):  # dropped meanwhile, a mistyped link, another workspace's run
            del st.query_params[JOB_PARAM]
            ss[LOST] = True  # said once in the sidebar: a restart drops the runs it had
            return
        ss[JOB] = job
        ss[REATTACHED] = True
        if not job.state().active:
            ss[HANDLED] = id(job)
    elif job.job_id and wanted != job.job_id and job.state().active:
        st.query_params[JOB_PARAM] = job.job_id  # a finished run is saved: its id would only pin the back button


def _saves_here(job: jobs.TrainingJob) -> bool:
    """Whether ``job`` saves into this session's models folder (a run of another workspace is never shown)."""
    root = Path(job.root) if job.root is not None else store.models_dir()
    try:
        return root.resolve() == session.models_root().resolve()
    except OSError:
        return False


def finish_job_if_done() -> bool:
    """Once this session's training job has ended: make its model current (once). True when that just happened."""
    job = current_job()
    if job is None or st.session_state.get(HANDLED) == id(job):
        return False
    s = job.state()
    if s.active:
        return False
    st.session_state[HANDLED] = id(job)
    if s.path:
        session.set_current_model(s.path)
    return True


def training_status(show: bool = True) -> None:
    """A small live status of this session's training run in the sidebar, on every page (polled while it runs)."""
    finish_job_if_done()  # ended since the last run: the page about to run already shows the new model
    if st.session_state.pop(LOST, False):
        st.sidebar.info("The training run this link pointed to is no longer on the server (the server was "
                        "restarted, or the run ended a while ago): start it again on the Train page if it was not "
                        "saved.", icon=":material/history:")
    job = current_job()
    if not show or job is None or not job.state().active:
        return

    def poll() -> None:
        s = job.state()
        if finish_job_if_done():
            st.rerun()  # the whole page: it now shows the new model
        if s.active:
            st.caption(":material/model_training: Training in the background")
            st.progress(min(max(s.fraction, 0.0), 1.0),
                        text=f"{s.fraction:.0%} · epoch {max(s.epoch, 1)}/{s.epochs}" if s.epoch else s.message)
            if s.queue_position:
                st.caption(f":material/hourglass_top: Number {s.queue_position} in line for a training slot")

    with st.sidebar:
        st.fragment(guarded(poll), run_every=1.0)()
