"""Train page (AppTest): knobs are there, a tiny run reaches the chart and a saved current model, bad settings say why."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from conftest import APP
from w2v_core import store


KNOBS = ["train_arch", "train_loss", "train_window", "train_dim", "corpus_min_count", "train_sample",
         "train_negative", "train_epochs", "train_lr", "train_batch", "train_seed", "train_update"]


def open_train() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    return at


def widget(at: AppTest, key: str):
    return at.get_by_key(key) if hasattr(at, "get_by_key") else None


def run_until_finished(at: AppTest, max_runs: int = 200) -> None:
    """The page polls the job with a fragment; in a test we rerun until the job has been handled."""
    for _ in range(max_runs):
        at.run()
        job = at.session_state["train_job"]
        if not job.state().active and "train_job_handled" in at.session_state:
            at.run()
            return
        time.sleep(0.1)
    s = at.session_state["train_job"].state()
    raise AssertionError(f"the training run did not finish: {s.status} {s.message} {s.error}")


def small_run(at: AppTest, epochs: int = 1, min_count: int = 2, tokens: int = 5_000, dim: int = 10) -> None:
    """Lee news, 5k tokens, dimension 10: a small run."""
    assert 1 <= epochs <= 50  # the slider's range
    at.selectbox(key="corpus_source").set_value("lee")
    at.select_slider(key="corpus_size").set_value(tokens)
    at.select_slider(key="train_dim").set_value(dim)
    at.slider(key="train_epochs").set_value(epochs)
    at.slider(key="corpus_min_count").set_value(min_count)
    at.button(key="train_start").click().run()


def test_every_knob_is_there_with_help():
    at = open_train()
    for key in KNOBS:
        w = widget(at, key)
        assert w is not None, key
        assert w.help, f"{key} has no help text"
    assert at.button(key="train_start").label == "Train"
    assert any("press **Train**" in i.value for i in at.info)


def test_the_first_values_are_the_showcase_ones_and_come_back_on_reset():
    from w2v_core import showcase

    at = open_train()
    assert at.slider(key="train_epochs").value == showcase.FIRST_RUN["epochs"]
    assert at.slider(key="train_window").value == showcase.FIRST_RUN["window"]
    at.slider(key="train_epochs").set_value(2).run()
    at.select_slider(key="train_dim").set_value(10).run()
    at.selectbox(key="corpus_source").set_value("lee").run()
    assert not any("bundled Wikipedia sample in under half a minute" in i.value for i in at.info)  # not its corpus
    at.button(key="train_reset").click().run()
    assert not at.exception
    assert at.slider(key="train_epochs").value == showcase.FIRST_RUN["epochs"]
    assert at.select_slider(key="train_dim").value == showcase.FIRST_RUN["dim"]
    assert at.selectbox(key="corpus_source").value == "sample"  # the first values include their corpus (issue 24)
    assert any("bundled Wikipedia sample in under half a minute" in i.value for i in at.info)


def test_a_tiny_run_shows_the_chart_and_saves_the_current_model():
    at = open_train()
    small_run(at)
    assert not at.exception
    assert at.button(key="train_start").disabled or "train_job_handled" in at.session_state
    run_until_finished(at)
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert not any("too high" in w.value for w in at.warning)  # a healthy run gets no learning-rate warning
    assert at.subheader[0].value == "Finished"
    assert len(at.get("plotly_chart")) == 1  # the loss chart
    path = at.session_state["current_model"]
    assert path and Path(path).parent == store.models_dir()
    m = store.load_model(path)
    assert m.config["model"]["dim"] == 10 and m.config["train"]["epochs"] == 1
    assert m.config["corpus"]["tokens"] <= 5_000 + 500
    assert m.history["epoch"] and m.history["epoch"][0]["loss"] > 0
    assert any("is now the current model" in s.value for s in at.success)
    # the Train button is usable again, and the model card is shown
    assert not at.button(key="train_start").disabled
    assert any(mt.label == "Final loss" for mt in at.metric)


def test_the_page_trains_in_a_process_of_its_own_with_a_live_chart_and_map(monkeypatch):
    """As a server does (issue 24): the run trains in another process, and its progress still reaches the page."""
    monkeypatch.delenv("W2V_TRAIN_PROCESS")
    at = open_train()
    small_run(at, epochs=3)
    job = at.session_state["train_job"]
    assert job.process
    pids = set()
    for _ in range(6000):  # the new process imports torch first: slow on a busy machine (bounded wait)
        if not job.state().active:
            break
        pids.add(job.worker_pid)
        time.sleep(0.05)
    assert pids - {None} and os.getpid() not in pids
    run_until_finished(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.subheader[0].value == "Finished"
    s = job.state()
    assert s.epoch_losses and s.batch_losses and s.path == at.session_state["current_model"]
    assert job.recorder.latest() is not None  # the live map's words
    assert store.load_model(s.path).config["train"]["epochs"] == 3


def test_stop_keeps_the_partial_model():
    at = open_train()
    small_run(at, epochs=50, tokens=50_000, dim=300)  # long enough to press Stop while it runs (dim 300: ~30 s)
    job = at.session_state["train_job"]
    for _ in range(600):  # let it learn something first (bounded wait, no timing assertion)
        if job.state().batch_losses or not job.state().active:
            break
        time.sleep(0.05)
    at.run()
    first = job.state()
    assert first.active and first.batch_losses, (first.status, first.error, first.message)
    at.button(key="train_stop").click().run()  # the Stop button under the progress bar
    assert job.stop_requested
    run_until_finished(at)
    assert not at.exception
    s = job.state()
    assert s.status == "stopped", (s.status, s.error, s.message)
    assert s.path and at.session_state["current_model"] == s.path  # what was learnt is kept, and current
    m = store.load_model(s.path)
    assert m.config["summary"]["stopped"] is True and m.name.endswith("-stopped")
    assert [h.value for h in at.subheader][:1] == ["Stopped"], [h.value for h in at.subheader]


def test_stopping_says_so_and_offers_the_previous_model_back():
    at = open_train()
    small_run(at, epochs=1)
    run_until_finished(at)
    previous = at.session_state["current_model"]
    small_run(at, epochs=50, tokens=50_000, dim=300)
    job = at.session_state["train_job"]
    for _ in range(600):
        if job.state().batch_losses or not job.state().active:
            break
        time.sleep(0.05)
    at.run()
    at.button(key="train_stop").click().run()
    run_until_finished(at)
    s = job.state()
    assert s.status == "stopped" and at.session_state["current_model"] == s.path
    said = " ".join(w.value for w in at.warning)
    assert "Training was stopped" in said and f"of 50 epochs" in said and "is now the current model" in said
    chart = at.get("plotly_chart")[0]
    import json
    x_end = json.loads(chart.proto.spec)["layout"]["xaxis"]["range"][1]
    ran = max([b["x"] for b in s.batch_losses] + [e["epoch"] for e in s.epoch_losses] + [s.summary["epochs"]])
    assert x_end == ran < 50  # the axis ends where the run stopped
    at.button(key="train_keep_previous").click().run()
    assert at.session_state["current_model"] == previous
    said = " ".join(w.value for w in at.warning)
    assert "the current model is still" in said


def test_a_new_session_shows_the_saved_models_instead_of_nothing(tiny_corpus):
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    r = Trainer(tiny_corpus, ModelConfig(dim=8, min_count=1), TrainConfig(epochs=1, threads=1)).train()
    r.save(store.models_dir() / "saved-before", name="saved-before")
    at = open_train()
    assert not any("Nothing has been trained" in i.value for i in at.info)
    assert [h.value for h in at.subheader][:1] == ["Your current model"]
    assert any("saved-before" in m.value for m in at.markdown)
    # its loss curve, to hold the next run against (and the browser has its chart code before the run needs the CPU)
    import json
    curve = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert curve["data"] and all(len(t["y"]) >= 1 for t in curve["data"])
    assert any("How its loss fell" in c.value for c in at.caption)


def test_the_corpus_chosen_on_the_corpus_page_is_the_one_train_uses():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/corpus.py").run()
    at.selectbox(key="corpus_source").set_value("lee").run()
    at.select_slider(key="corpus_size").set_value(5_000).run()
    at.slider(key="corpus_min_count").set_value(3).run()
    at.button(key="corpus_train").click().run()  # "Train on this corpus"
    assert not at.exception
    assert at.button(key="train_start").label == "Train"  # now on the Train page, with the same choice
    at.switch_page("pages/train.py").run()  # (AppTest's next runs stay on the page it last switched to)
    assert at.selectbox(key="corpus_source").value == "lee" and at.slider(key="corpus_min_count").value == 3
    at.select_slider(key="train_dim").set_value(10)
    at.slider(key="train_epochs").set_value(1)
    at.button(key="train_start").click().run()
    job = at.session_state["train_job"]
    assert (job.corpus_config.source, job.corpus_config.max_tokens, job.model_config.min_count) == ("lee", 5_000, 3)
    run_until_finished(at)
    at.switch_page("pages/corpus.py").run()
    assert at.slider(key="corpus_min_count").value == 3  # and back: still one choice


def test_the_run_survives_visiting_another_page():
    at = open_train()
    small_run(at, epochs=2)
    job = at.session_state["train_job"]
    at.switch_page("pages/home.py").run()
    assert not at.exception
    # the run ends while the user is elsewhere: it still becomes the current model
    assert job.join(120)
    at.run()
    assert at.session_state["current_model"] == job.path is not None
    at.switch_page("pages/train.py").run()
    assert at.session_state["train_job"] is job
    assert at.select_slider(key="train_dim").value == 10  # knobs kept too
    assert at.slider(key="train_epochs").value == 2
    assert at.subheader[0].value == "Finished"
    assert len(at.get("plotly_chart")) == 1


def test_two_sessions_train_without_seeing_each_other():
    a, b = open_train(), open_train()
    small_run(a, epochs=1)
    small_run(b, epochs=3)
    run_until_finished(a)
    run_until_finished(b)
    ja, jb = a.session_state["train_job"], b.session_state["train_job"]
    assert ja is not jb
    assert len(ja.state().epoch_losses) == 1 and len(jb.state().epoch_losses) == 3
    assert a.session_state["current_model"] == ja.path != jb.path == b.session_state["current_model"]


def test_settings_that_leave_no_vocabulary_show_an_error():
    at = open_train()
    at.selectbox(key="corpus_source").set_value("paste").run()
    at.text_area(key="corpus_paste").set_value("the cat sat on the mat\nthe dog sat on the log\n").run()
    at.slider(key="corpus_min_count").set_value(100)
    at.button(key="train_start").click().run()
    run_until_finished(at)
    assert not at.exception
    assert at.subheader[0].value == "Failed"
    assert any("min_count" in e.value.replace("\\", "") or "min count" in e.value for e in at.error)  # plain text: escaped
    assert at.session_state["current_model"] is None


def test_a_learning_rate_that_blows_up_gets_a_warning():
    """word2vec's plain summed step with a big batch blows up: the trainer rolls back, retries more gently, and
    the page says what happened and what to change."""
    at = open_train()
    at.select_slider(key="train_lr").set_value(0.5)
    at.select_slider(key="train_batch").set_value(256)
    at.select_slider(key="train_sample").set_value(1e-3)  # word2vec's (the app's first value thins the tiny text more)
    at.radio(key="train_update").set_value("Plain sum (word2vec)")
    small_run(at)
    run_until_finished(at)
    assert not at.exception
    msgs = [w.value for w in at.warning] + [e.value for e in at.error]
    assert any("blew up" in m or "diverged" in m for m in msgs), msgs
    assert any("learning rate" in m.lower() for m in msgs), msgs


def test_the_bounded_update_trains_through_a_rate_that_breaks_the_plain_sum():
    at = open_train()
    at.select_slider(key="train_lr").set_value(0.5)
    at.select_slider(key="train_batch").set_value(1024)
    at.select_slider(key="train_sample").set_value(1e-3)  # as in the test above, where the plain sum blows up
    small_run(at)
    run_until_finished(at)
    assert not at.exception
    assert at.subheader[0].value == "Finished", [e.value for e in at.error]


def test_documents_too_short_for_any_context_show_an_error():
    at = open_train()
    at.selectbox(key="corpus_source").set_value("paste").run()
    at.text_area(key="corpus_paste").set_value("\n".join(["alpha", "beta", "gamma", "delta"] * 20)).run()
    at.slider(key="corpus_min_count").set_value(1)
    at.button(key="train_start").click().run()
    run_until_finished(at)
    assert not at.exception
    assert at.subheader[0].value == "Failed"
    assert any("context" in e.value for e in at.error), [e.value for e in at.error]


def test_a_missing_corpus_file_shows_an_error(tmp_path):
    at = open_train()
    at.selectbox(key="corpus_source").set_value("path").run()
    at.text_input(key="corpus_path").set_value(str(tmp_path / "nope.txt")).run()
    at.button(key="train_start").click().run()
    if "train_job" in at.session_state:
        run_until_finished(at)
    assert not at.exception
    assert any("not found" in e.value.lower() or "no such" in e.value.lower() for e in at.error)


def test_corpus_choices_survive_visiting_another_page():
    at = open_train()
    at.selectbox(key="corpus_source").set_value("lee").run()
    at.select_slider(key="corpus_size").set_value(20_000).run()
    at.checkbox(key="corpus_keep_numbers").check().run()
    at.number_input(key="corpus_min_token_len").set_value(3).run()
    at.switch_page("pages/map.py").run()
    assert not at.exception
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert at.selectbox(key="corpus_source").value == "lee"
    assert at.select_slider(key="corpus_size").value == 20_000
    assert at.checkbox(key="corpus_keep_numbers").value is True
    assert at.number_input(key="corpus_min_token_len").value == 3
    # and the run uses them
    at.select_slider(key="train_dim").set_value(10)
    at.slider(key="corpus_min_count").set_value(2)
    at.button(key="train_start").click().run()
    cfg = at.session_state["train_job"].corpus_config
    assert (cfg.source, cfg.max_tokens, cfg.keep_numbers, cfg.min_token_len) == ("lee", 20_000, True, 3)
    run_until_finished(at)


def test_pasted_text_and_a_path_survive_visiting_another_page(tmp_path):
    at = open_train()
    at.selectbox(key="corpus_source").set_value("paste").run()
    at.text_area(key="corpus_paste").set_value("the cat sat on the mat\nthe dog sat on the log\n").run()
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/train.py").run()
    assert at.selectbox(key="corpus_source").value == "paste"
    assert at.text_area(key="corpus_paste").value.startswith("the cat sat")
    at.selectbox(key="corpus_source").set_value("path").run()
    at.text_input(key="corpus_path").set_value(str(tmp_path / "corpus.txt")).run()
    at.switch_page("pages/home.py").run()
    at.switch_page("pages/train.py").run()
    assert at.selectbox(key="corpus_source").value == "path"
    assert at.text_input(key="corpus_path").value == str(tmp_path / "corpus.txt")


def refreshed(job_id: str | None, page: str = "pages/train.py") -> AppTest:
    """A browser refresh: a new session whose URL carries (or lacks) the ?job= id."""
    at = AppTest.from_file(APP, default_timeout=60)
    if job_id is not None:
        at.query_params["job"] = job_id
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    return at


def test_a_refreshed_tab_finds_its_run_again_and_nobody_else_sees_it():
    at = open_train()
    small_run(at, epochs=50, tokens=50_000, dim=300)  # long enough to refresh while it runs
    job = at.session_state["train_job"]
    job_id = at.query_params.get("job")
    assert job_id and job_id == job.job_id  # the run's id is in the tab's URL
    for _ in range(600):
        if job.state().batch_losses or not job.state().active:
            break
        time.sleep(0.05)

    again = refreshed(job_id)  # same URL: the live view of the same run
    assert again.session_state["train_job"] is job
    assert job.state().active, job.state().status
    assert again.subheader[0].value == "Training ...", [h.value for h in again.subheader]
    charts = [c.key for c in again.get("plotly_chart")]
    assert charts.count("train_loss_chart") == 1
    assert "train_live_map" in charts  # the top words as they are now (ui.map_learn.live_map)
    assert again.query_params.get("job") == job_id  # a second refresh works too
    # the knobs are the run's own, not the defaults
    assert again.slider(key="train_epochs").value == 50 and again.select_slider(key="train_dim").value == 300
    assert again.selectbox(key="corpus_source").value == "lee"
    assert again.select_slider(key="corpus_size").value == 50_000

    stranger = refreshed(None)  # another user (no id in the URL) sees no run at all
    assert "train_job" not in stranger.session_state
    assert any("Nothing has been trained yet" in i.value for i in stranger.info)
    assert not stranger.get("plotly_chart")
    guess = refreshed(job_id[:-2] + "xx")  # a wrong id finds nothing, and leaves a clean URL
    assert "train_job" not in guess.session_state and "job" not in guess.query_params

    again.button(key="train_stop").click().run()  # the refreshed tab controls the run
    assert job.stop_requested
    run_until_finished(again)
    assert again.session_state["current_model"] == job.path is not None  # and takes its model when it ends
    stranger.run()
    assert "train_job" not in stranger.session_state and not stranger.get("plotly_chart")

    late = refreshed(job_id)  # a refresh after the end still shows the result
    assert late.subheader[0].value == "Stopped"
    assert len(late.get("plotly_chart")) == 1


def test_a_run_clearly_too_short_for_its_corpus_is_warned_before_it_starts():
    """5 epochs over a few hundred thousand tokens left every word close to every other, and nothing said so
    (issue 24): with the corpus cached, the page says so before Train, with the epochs that would do."""
    from w2v_core.data.corpus import CorpusConfig
    from w2v_core.data.loader import load_corpus

    at = open_train()
    assert not [w for w in at.warning if "short for its text" in w.value]  # the sample, not tokenized yet here
    lee = load_corpus(CorpusConfig(source="lee"))  # as the Corpus page leaves it: in the corpus cache
    at.selectbox(key="corpus_source").set_value("lee").run()
    at.slider(key="train_epochs").set_value(5).run()  # Lee's 60k tokens x 5 epochs: a mean cosine of 0.988
    (warning,) = [w.value for w in at.warning if "short for its text" in w.value]
    need = math.ceil(math.sqrt(10_000_000 / lee.n_tokens))
    assert f"5 epochs over {lee.n_tokens:,} tokens" in warning and f"Try {need} epochs" in warning
    at.slider(key="train_epochs").set_value(need).run()  # x 20 (the corpus's own first value): 0.283
    assert not [w for w in at.warning if "short for its text" in w.value]
