"""The Train page's live view: the run's progress and loss chart, then what became of it; saved models before.

While a run is active, :func:`live_status` and :func:`live_charts` run as two fragments that poll this session's
:class:`w2v_core.serve.jobs.TrainingJob` (the charts less often); :func:`live_view` draws the rest, once.
"""

from __future__ import annotations

import json
import math

import streamlit as st

from ui import cards, charts, continue_view, map_learn, shell
from ui.corpus_picker import offline_message, use_sample
from ui.job import current_job, finish_job_if_done
from ui import session
from ui.widgets import md_escape, show_error
from w2v_core import store
from w2v_core.data import corpus_cache
from w2v_core.data.corpus import CorpusConfig
from w2v_core.errors import W2VError
from w2v_core.serve.jobs import JobState, TrainingJob

CORPUS_KEY = "corpus"  # the corpus picker's keys on the Train (and Corpus) page
PREVIOUS = "train_previous_model"  # session state: the current model when the run started (None: there was none)
TITLES = {"pending": "Starting ...", "loading": "Loading the corpus ...", "running": "Training ...",
          "saving": "Saving ...", "done": "Finished", "stopped": "Stopped", "failed": "Failed"}


def _fmt_eta(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


def _name(path: str) -> str:
    try:
        return store.read_record(path).name
    except (W2VError, OSError):
        return path.rsplit("/", 1)[-1]


def divergence_warning(s: JobState) -> str | None:
    """The trainer rolled back epochs that blew up and retried them at a lower rate: say so, and what to change."""
    if not s.retries:
        return None
    lr = s.info.get("lr")
    return (f"Training blew up {len(s.retries)} time(s) and went back to try again more gently ({s.retries[-1]}) "
            f"The learning rate ({lr:g}) or the batch size is too high for this text." if lr else s.retries[-1])


ENOUGH = 10_000_000  # tokens x epochs**2 under which a run on the first values leaves crowded vectors (measured)


class _NotCached(Exception):
    """The corpus is not in the corpus cache yet (the Train page does not tokenize a corpus just to count it)."""


@st.cache_data(max_entries=16, show_spinner=False)
def _cached_tokens(config: CorpusConfig, ident: str) -> int:
    corpus = corpus_cache.load(config)
    if corpus is None:
        raise _NotCached  # not cached: asked again on the next rerun
    return int(corpus.n_tokens)


def short_run_warning(config: CorpusConfig | None, epochs: int) -> None:
    """Before a run: warn when it will clearly be too short for its corpus (issue 24: 5 epochs over a 350k-token
    upload gave vectors whose random pairs had a mean cosine of 0.91, and nothing said so).

    Measured with the first values (mean cosine of random word pairs; above 0.8 the model's health check warns):
    the bundled sample cut to 50k tokens x 5 epochs 0.998, 100k x 5 0.984, 200k x 5 0.917, 350k x 5 0.796, all
    465k x 5 0.73; Lee's 60k x 5 0.988 but x 20 0.283, 100k x 20 0.296. More epochs help far more than the words
    they add (the rate decays over the run), so the rule is tokens x epochs² >= ``ENOUGH``. Said only when the
    corpus is cached already (the Corpus page or a run read it), with the epochs that would do.
    """
    if config is None:
        return
    try:
        tokens = _cached_tokens(config, json.dumps(corpus_cache.source_identity(config.source), sort_keys=True))
    except (_NotCached, W2VError, OSError):
        return
    if tokens <= 0 or tokens * epochs ** 2 >= ENOUGH:
        return
    need = math.ceil(math.sqrt(ENOUGH / tokens))
    st.warning(f"This run will be short for its text: {epochs} epochs over {tokens:,} tokens leave the vectors "
               "crowded together (every word looks close to every other; the model's health check says so after). "
               f"Try {need} epochs" + (", or more text." if need > 50 else "."), icon=":material/hourglass_empty:")


def saved_models() -> None:
    """Before this session's first run: the models already saved (a new tab or a restart still has them)."""
    try:
        records = session.visible_records()
    except (OSError, W2VError):
        records = []
    path = session.current_path()
    if not records or path is None:
        own = st.session_state.get(f"{CORPUS_KEY}_source", "sample") != "sample"
        st.info("Nothing has been trained yet. " + (
            "The first values are chosen for the bundled Wikipedia sample; on your own text, a short text needs "
            "more epochs and a long one fewer: press **Train** and watch the loss." if own else
            "The first values train a model on the bundled Wikipedia sample in under half a minute: press "
            "**Train**."), icon=":material/lightbulb:")
        return
    st.subheader("Your current model")
    rec = store.read_record(path)
    cards.model_card(rec)
    current_loss_curve(rec)
    others = [r.name for r in records if str(r.path) != path]
    if others:
        more = f" and {len(others) - 5} more" if len(others) > 5 else ""
        st.caption(f"Also saved: {md_escape(', '.join(others[:5]))}{more}.")
    st.caption("Press **Train** to train another one; it becomes the current model when it finishes.")
    shell.link("models", "Choose another model", ":material/inventory_2:")


def current_loss_curve(rec: store.ModelRecord) -> None:
    """The current model's loss as it trained, to hold the next run's curve against. Drawn before a run, it also
    has the browser load its chart code then, not in the first seconds of the run, when the run needs the CPU
    (issue 24: 0.5 CPU-s of a 4.5 s first run on 2 cores)."""
    try:
        history = continue_view.history_of(rec)
    except (W2VError, OSError):
        return
    fig, missing = charts.compare_loss_figure([history], [rec.epochs or 1], [rec.name], ["#636efa"])
    if missing:
        return
    fig.update_layout(height=220, showlegend=False, margin=dict(l=10, r=20, t=10, b=10))
    st.plotly_chart(fig, key="train_current_loss", config={"displayModeBar": False})
    st.caption("How its loss fell as it trained (dotted: each epoch's mean).")


def _progress(job: TrainingJob, s: JobState) -> None:
    frac = min(max(s.fraction, 0.0), 1.0)
    text = (f"epoch {max(s.epoch, 1)}/{s.epochs} · {frac:.0%} · {s.words_per_sec:,.0f} words/s · "
            f"ETA {_fmt_eta(s.eta)}" if s.status == "running" and s.words_done else s.message)
    st.progress(frac, text=text)
    if job.stop_requested:
        st.caption("Stopping after the current batch ...")
    else:
        st.button("Stop", icon=":material/stop:", key="train_stop", on_click=job.stop,
                  help="Stop now; what was learnt so far is saved.")


def _epochs_run(s: JobState) -> str | None:
    """How many epochs a stopped run got through ("4.3"), or None."""
    done = s.summary.get("epochs")
    return (f"{done:.1f}".rstrip("0").rstrip(".") if isinstance(done, (int, float)) and s.status == "stopped"
            else None)


def _metrics(s: JobState) -> None:
    # a row that wraps: on a phone the figures sit two or three a line instead of one under the other
    row = st.container(horizontal=True, gap="small", horizontal_alignment="distribute")
    final = s.summary.get("final_loss") if not s.active else None
    if isinstance(final, (int, float)):
        row.metric("Final loss", f"{final:.4f}", help="Mean loss of the last full epoch.", width="content")
    else:
        row.metric("Loss", f"{s.smoothed_loss:.4f}" if s.smoothed_loss is not None else "-", width="content",
                   help="Moving average of the loss per training example.")
    done = _epochs_run(s)
    row.metric("Epoch", f"{done}/{s.epochs}" if done else
               f"{min(max(s.epoch, 1), max(s.epochs, 1))}/{s.epochs}" if s.epoch else "-", width="content")
    row.metric("Words/s", f"{s.words_per_sec:,.0f}" if s.words_per_sec else "-", width="content")
    row.metric("Vocabulary", f"{s.info['vocab_size']:,}" if "vocab_size" in s.info else "-", width="content")
    row.metric("Time", f"{s.elapsed:.1f} s" if s.elapsed else "-", width="content")


def _stopped(s: JobState) -> None:
    """Say that the run was stopped, what was kept, and which model is current now (with a way back)."""
    if not s.path:
        st.info(f"Training was stopped before it learnt anything ({s.message}). The current model is unchanged.",
                icon=":material/stop_circle:")
        return
    done = _epochs_run(s)
    name = md_escape(_name(s.path))
    head = f"**Training was stopped** after {done} of {s.epochs} epochs. " if done else "**Training was stopped.** "
    previous = st.session_state.get(PREVIOUS)
    if session.current_path() == s.path:
        st.warning(head + f"What it had learnt is saved as **{name}** and is now the current model, so the other "
                   "pages show it; it has learnt less than the full run would have.", icon=":material/stop_circle:")
        if previous and previous != s.path and store.is_model_folder(previous):
            st.button(f"Keep {md_escape(_name(previous))} as the current model instead", key="train_keep_previous",
                      icon=":material/undo:", on_click=session.set_current_model, args=(previous,))
    else:
        st.warning(head + f"What it had learnt is saved as **{name}** (on the Models page); the current model "
                   f"is still **{md_escape(_name(session.current_path() or ''))}**.", icon=":material/stop_circle:")


STATUS_EVERY = 1.0  # s between redraws of a running job's progress bar and figures (one fragment)
CHARTS_EVERY = 2.5  # s between redraws of its loss chart and live map (another): the browser's drawing of these two
# took 0.5-0.8 of a core at one redraw every 0.75 s, a core the run (on a 2-core machine) then did not have (issue 24)


def _head(job: TrainingJob, s: JobState) -> bool:
    """The run's title, progress and figures; False when there is nothing more to draw (it failed)."""
    st.subheader(f"Waiting in line: number {s.queue_position}" if s.status == "pending" and s.queue_position
                 else TITLES[s.status])
    if s.status == "failed" and s.error_kind == "HubUnavailable" and job.corpus_config is not None:
        st.error(offline_message(job.corpus_config), icon=":material/cloud_off:")
        if st.button("Use the bundled Wikipedia sample", key="train_use_sample", type="primary",
                     on_click=use_sample, args=(CORPUS_KEY,)):
            st.rerun()  # the whole page: the corpus picker shows the sample
        return False
    if s.status == "failed":
        show_error(s.error or "Training failed.")
        st.caption("Change the setting the message names and press **Train** again.")
        return False
    if s.active:
        _progress(job, s)
    _metrics(s)
    if s.corpus:
        st.caption(f"Corpus: {md_escape(s.corpus['name'])} · {s.corpus['tokens']:,} tokens · "
                   f"{s.corpus['documents']:,} documents · {s.corpus['distinct_words']:,} distinct words")
    return True


def _charts(job: TrainingJob, s: JobState) -> None:
    if len(s.batch_losses) >= 2 or s.epoch_losses:
        st.plotly_chart(charts.loss_figure(s, *continue_view.parent_curve(job)), key="train_loss_chart",
                        config={"displayModeBar": False})
    elif s.active:
        st.caption("The loss chart appears with the first batches.")
    if s.status == "running":
        map_learn.live_map(job)  # the top words as they are now


def live_status() -> None:
    """While a run is active: its title, progress and figures (a fragment every ``STATUS_EVERY`` s); the whole page
    reruns when it ends."""
    job = current_job()
    if finish_job_if_done() or job is None or not job.state().active:
        st.rerun()  # the whole page: it stops polling and every widget sees the new model
    _head(job, job.state())


def live_charts() -> None:
    """While a run is active: its loss chart and live map (a slower fragment, every ``CHARTS_EVERY`` s)."""
    job = current_job()
    if job is not None:
        _charts(job, job.state())


def live_view() -> None:
    """This session's run when none is active: the chart, the outcome and the new model's card; saved models before
    the first run."""
    job = current_job()
    if job is None:
        saved_models()
        return
    s = job.state()
    if finish_job_if_done():
        st.rerun()  # a full run: the page stops polling and every widget sees the new model
    if not _head(job, s):
        return
    _charts(job, s)
    if s.status == "stopped":
        _stopped(s)
    if s.status in ("done", "stopped") and s.path:
        warning = divergence_warning(s)
        if warning:
            st.warning(warning, icon=":material/trending_up:")
        if s.status == "done":
            st.success(f"Finished and saved: **{md_escape(_name(s.path))}** is now the current model.",
                       icon=":material/check_circle:")
        if s.evicted:
            st.caption(f":material/auto_delete: To stay within the disk quota, {len(s.evicted)} older, least "
                       "recently used model(s) or upload(s) were removed.")
        try:
            session.load_model(s.path)  # a damaged save says so here
            rec = store.read_record(s.path)
            cards.model_card(rec)
            if getattr(job, "parent", None):
                continue_view.what_changed_view(rec, "train_changed")
            cards.health_note(s.path)
        except W2VError as e:
            show_error(e)
        c = st.columns(3)
        shell.link("map", "Open the map", ":material/scatter_plot:", c[0])
        shell.link("neighbours", "Ask for neighbours", ":material/hub:", c[1])
        shell.link("models", "Manage models", ":material/inventory_2:", c[2])
