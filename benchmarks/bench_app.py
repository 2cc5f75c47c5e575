"""What the app costs when nobody uses it, and how fast it trains next to the command line (issue 24).

    python benchmarks/bench_app.py --part idle               # one idle tab for 20 s: the server's CPU and log lines
    python benchmarks/bench_app.py --part idle --watcher auto  # the same with Streamlit's file watcher on (before)
    python benchmarks/bench_app.py --part train --runs 2     # the first values: app (+ a tab on the Map) vs the CLI

Both parts serve a copy of this project (its tracked files, its own ``.streamlit/config.toml``) from a temporary
folder that also holds a ``.venv`` as the README says to make one (this Python's packages, hard-linked), and the app
runs on that venv's Python: every module it imports is inside the project folder. The server runs ``streamlit run app.py --server.headless true`` on
a free port, and one tab is opened in Debian's Chromium through Playwright (headless, the test suite's flags).

* ``idle``: the tab opens ``--page``, waits for it to be drawn and settle (5 s), then the server process's CPU ticks
  (utime + stime of it and its children, from ``/proc``) are counted over ``--seconds``, with the share of one core
  that is and the log lines written meanwhile (``Inotify queue overflowed`` among them).
* ``train``: ``python -m w2v_core train`` with the Train page's first values (``w2v_core.showcase.FIRST_RUN``) on the
  bundled corpus, saved into the app's models folder; then the same run started with the Train page's button, while
  a second tab browses the Map of the CLI's model every 6 s: ``--browse widgets`` (default) searches words and switches
  PCA/t-SNE on the open page, ``--browse reload`` loads another map's URL each time (the whole page).
  The figures are the trainer's own ``seconds`` (what each saved model's summary says: the training, not the
  corpus loading) and the wall time, and app / CLI. The CLI and app runs alternate, ``--runs`` times each.
  ``cpu_s`` says where the CPU went meanwhile: the CLI process; for the app, the server's own threads, its children
  (the training process) and the browser (both tabs), from ``/proc``. ``--no-map``: no second tab.

No pass/fail: the machine is shared, so run it a few times and read the spread. The load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port  # noqa: E402
from w2v_core.showcase import FIRST_RUN  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def copy_project(dest: Path, venv: str) -> Path:
    """The tracked files of this checkout (as a fresh clone has them) and a venv inside, as the README says; returns
    the Python to serve the app with.

    ``venv="real"``: ``python -m venv .venv`` with this Python's site-packages hard-linked into it (same packages,
    no copying; the temporary folder must be on the same file system), and the app runs on ``.venv/bin/python``,
    so everything it imports lives inside the project folder, as after ``pip install -r requirements.txt``.
    ``"none"``: no venv, this Python.
    """
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for f in filter(None, files):
        src = ROOT / f.decode()
        if src.is_file():
            (dest / f.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f.decode())
    if venv == "none":
        return Path(sys.executable)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest / ".venv")], check=True)
    site = sysconfig.get_paths()["purelib"]
    target = dest / ".venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    shutil.rmtree(target)
    subprocess.run(["cp", "-al", site, str(target)], check=True)
    return dest / ".venv" / "bin" / "python"


PYTHON = [Path(sys.executable)]  # the Python that serves the app (copy_project's venv)


def serve(app_dir: Path, base: Path, watcher: str | None):
    env = dict(os.environ, W2V_MODELS_DIR=str(base / "models"), W2V_CACHE_DIR=str(base / "cache"),
               W2V_DATA_DIR=str(base / "data"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    port = _free_port()
    cmd = [str(PYTHON[0]), "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port)]
    if watcher:
        cmd += ["--server.fileWatcherType", watcher]
    log = open(base / "streamlit.log", "w")
    proc = subprocess.Popen(cmd, cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url, log
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("streamlit did not start:\n" + (base / "streamlit.log").read_text()[-3000:])
        time.sleep(0.5)


def stop(proc, log) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def cpu_ticks(pid: int) -> int:
    """utime + stime of the process and its waited-for children (fields 14-17 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15])


def log_lines(base: Path) -> list[str]:
    return (base / "streamlit.log").read_text(errors="replace").splitlines()


def part_idle(args, app_dir: Path, base: Path, browser) -> None:
    proc, url, log = serve(app_dir, base, args.watcher)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{url}/{args.page}")
        page.get_by_role("heading").first.wait_for(timeout=180_000)
        page.wait_for_timeout(5000)
        before_lines = len(log_lines(base))
        t0, c0 = time.monotonic(), cpu_ticks(proc.pid)
        time.sleep(args.seconds)
        ticks, wall = cpu_ticks(proc.pid) - c0, time.monotonic() - t0
        lines = log_lines(base)[before_lines:]
        page.close()
    finally:
        stop(proc, log)
    inotify = sum("Inotify queue overflowed" in x for x in lines)
    print(f"idle /{args.page} tab, file watcher {args.watcher or 'as config.toml says'}: {ticks} ticks in "
          f"{wall:.1f} s = {100 * ticks / TICK / wall:.1f}% of a core; {len(lines)} log lines "
          f"({inotify} 'Inotify queue overflowed')")


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, utime + stime ticks of its own threads) for every process now."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(d.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return out


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


class CpuWatch:
    """Where the CPU went during an app run: the server's own threads, its children (the training process), the
    browser (every other process below this script) and Playwright's driver (``node``, which runs this script's
    queries of the page: not the app's cost), sampled a few times a second; a process that ends keeps the
    ticks it was last seen with."""

    def __init__(self, server_pid: int):
        self.server, self.me = server_pid, os.getpid()
        self.start = self._sample()
        self.last = dict(self.start)

    def _sample(self) -> dict[int, tuple[str, int]]:
        table = _proc_table()
        kind: dict[int, str] = {}

        def of(pid: int) -> str | None:
            if pid in kind:
                return kind[pid]
            chain, p = [], pid
            while p in table and p not in kind and p not in (self.server, self.me, 0, 1):
                chain.append(p)
                p = table[p][0]
            k = kind.get(p) or ("server-child" if p == self.server else "browser" if p == self.me else None)
            if k == "driver":  # below Playwright's driver: the browser
                k = "browser"
            elif k == "browser" and p == self.me and chain and _comm(chain[-1]).startswith("node"):  # the driver itself
                kind[chain.pop()] = "driver"
            for c in chain:
                kind[c] = k
            return kind.get(pid, k)

        out = {}
        for pid, (_, ticks) in table.items():
            k = "server" if pid == self.server else of(pid)
            if k is not None and pid != self.me:
                out[pid] = (k, ticks)
        return out

    def sample(self) -> None:
        self.last.update(self._sample())

    def seconds(self) -> dict[str, float]:
        """CPU seconds since the start, by kind (server, server-child = the training process, browser)."""
        out: dict[str, float] = {}
        for pid, (k, ticks) in self.last.items():
            before = self.start.get(pid, (k, 0))[1]
            out[k] = out.get(k, 0.0) + (ticks - before) / TICK
        return {k: round(v, 1) for k, v in sorted(out.items())}


def cli_run(out: Path) -> dict:
    cmd = [str(PYTHON[0]), "-m", "w2v_core", "train", "--corpus", "sample", "--out", str(out), "--quiet",
           "--arch", str(FIRST_RUN["arch"]), "--loss", str(FIRST_RUN["loss"]), "--dim", str(FIRST_RUN["dim"]),
           "--window", str(FIRST_RUN["window"]), "--negative", str(FIRST_RUN["negative"]),
           "--min-count", str(FIRST_RUN["min_count"]), "--sample", str(FIRST_RUN["sample"]),
           "--epochs", str(FIRST_RUN["epochs"])]
    t = time.perf_counter()
    before = os.times()
    res = subprocess.run(cmd, cwd=PYTHON[0].parents[2] if PYTHON[0].parent.parent.name == ".venv" else ROOT,
                         capture_output=True, text=True, check=True)
    after = os.times()
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    cpu = after.children_user + after.children_system - before.children_user - before.children_system
    return {"seconds": summary["seconds"], "wall": time.perf_counter() - t, "loss": summary["final_loss"],
            "cpu_s": round(cpu, 1), "load": os.getloadavg()[0]}


def browse_map(page, url: str, model: str, k: int) -> None:
    """The second tab, ``--browse reload``: another view of the map (projection and size change) by loading its URL
    again, the whole page each time."""
    method, n = [("pca", 500), ("pca", 1000), ("tsne", 500), ("pca", 2000)][k % 4]
    page.goto(f"{url}/map?model={model}&method={method}&n={n}", wait_until="commit")


POLL_MS = 1000  # how often the run's page is asked whether it finished: each query is a search of the whole page
# in the browser, CPU the run then does not have (at 250 ms, with /proc read as often, it was part of what we measure)
SEARCHES = ("music", "war", "city", "king", "river", "film")


def open_map(page, url: str, model: str) -> None:
    """``--browse widgets``: the second tab opens the Map once, before the run (as a user who was looking at it)."""
    page.goto(f"{url}/map?model={model}&method=pca&n=500")
    page.locator(".st-key-map_search input").wait_for(timeout=180_000)
    page.wait_for_function("document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot') !== null",
                           timeout=180_000)


def browse_widgets(page, k: int) -> None:
    """``--browse widgets``: one step of looking around on the open Map, as a user does it: search a word (it lights
    up with its neighbours), every third step switch the projection between PCA and t-SNE."""
    if k % 3 == 2:
        box = page.locator(".st-key-map_method")
        box.click()
        page.get_by_role("option", name="t-SNE" if (k // 3) % 2 == 0 else "PCA", exact=True).click()
        return
    field = page.locator(".st-key-map_search input")
    field.fill(SEARCHES[k % len(SEARCHES)])
    field.press("Enter")


def app_run(page, other, url: str, models: Path, map_model: str, server_pid: int, browse: str = "widgets") -> dict:
    before = {p.name for p in models.iterdir()}
    if browse == "widgets":
        open_map(other, url, map_model)
    page.goto(f"{url}/train")
    button = page.get_by_role("button", name="Train", exact=True)
    button.wait_for(timeout=180_000)
    cpu = CpuWatch(server_pid)
    button.click(timeout=180_000)
    t = time.perf_counter()
    k = 0
    last = 0.0
    while True:
        now = time.perf_counter()
        cpu.sample()
        if browse != "none" and now - last > 6:
            (browse_map(other, url, map_model, k) if browse == "reload" else browse_widgets(other, k))
            k, last = k + 1, now
        if page.get_by_text("Finished and saved").count() or page.get_by_text("Failed").count():
            break
        if now - t > 900:
            raise SystemExit("the app's run did not finish in 15 minutes")
        page.wait_for_timeout(POLL_MS)
    wall = time.perf_counter() - t
    new = [p for p in models.iterdir() if p.name not in before and (p / "config.json").is_file()]
    summary = json.loads((new[0] / "config.json").read_text())["summary"]
    return {"seconds": summary["seconds"], "wall": wall, "loss": summary["final_loss"], "map_views": k,
            "cpu_s": cpu.seconds(), "load": os.getloadavg()[0]}


def part_train(args, app_dir: Path, base: Path, browser) -> None:
    models = base / "models"
    models.mkdir(parents=True, exist_ok=True)
    proc, url, log = serve(app_dir, base, args.watcher)
    rows = []
    try:
        first_cli = cli_run(models / "cli-0")
        rows.append(("cli", first_cli))
        print(f"cli: {first_cli}", flush=True)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        other = browser.new_page(viewport={"width": 1440, "height": 900})
        for i in range(args.runs):
            r = app_run(page, other, url, models, "cli-0", proc.pid, "none" if args.no_map else args.browse)
            rows.append(("app", r))
            print(f"app: {r}", flush=True)
            if i < args.runs - 1 or args.runs == 1:
                r = cli_run(models / f"cli-{i + 1}")
                rows.append(("cli", r))
                print(f"cli: {r}", flush=True)
    finally:
        stop(proc, log)
    cli = sorted(r["seconds"] for k, r in rows if k == "cli")
    app = sorted(r["seconds"] for k, r in rows if k == "app")
    med = lambda xs: xs[len(xs) // 2]  # noqa: E731
    print(f"\ntraining seconds (the trainer's own): CLI {cli}, app {app}; medians: app / CLI = "
          f"{med(app) / med(cli):.2f}x")
    errors = [x for x in log_lines(base) if "Traceback" in x or "Error" in x]
    if errors:
        print(f"{len(errors)} error lines in the server log, e.g. {errors[0]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["idle", "train"], required=True)
    ap.add_argument("--watcher", default=None, help="--server.fileWatcherType to force (default: config.toml's)")
    ap.add_argument("--page", default="", help="idle: the page the tab shows ('' = Home, 'train', 'map', ...)")
    ap.add_argument("--seconds", type=float, default=20.0, help="idle: how long to count")
    ap.add_argument("--runs", type=int, default=1, help="train: app runs (a CLI run before each, and one after)")
    ap.add_argument("--no-map", action="store_true", help="train: no second tab on the Map (the app alone)")
    ap.add_argument("--browse", choices=("widgets", "reload"), default="widgets",
                    help="train: how the second tab browses the Map every 6 s: its widgets (search a word, switch "
                         "PCA/t-SNE) on the open page, or load another map's URL, the whole page (before)")
    ap.add_argument("--venv", choices=["real", "none"], default="real",
                    help="real: a .venv inside the project with this Python's packages (hard links); none: no venv")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        app_dir, base = Path(tmp) / "app", Path(tmp) / "run"
        app_dir.mkdir()
        base.mkdir()
        PYTHON[0] = copy_project(app_dir, args.venv)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                (part_idle if args.part == "idle" else part_train)(args, app_dir, base, browser)
            finally:
                browser.close()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
