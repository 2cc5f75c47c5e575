"""Screenshots of every page at 1440x900 and 390x844, for looking at after a change (issue 24 asks for it).

    python docs/screenshots/take.py --models /path/to/models-folder [--out docs/screenshots]

Serves this checkout (`streamlit run app.py`, headless, file watcher off) with a copy of ``--models`` as its models
folder (``--current`` names the current model, else it is the newest; Compare needs two), opens each page in Debian's Chromium through
Playwright (the test suite's flags), waits until Streamlit has stopped running and no spinner shows, and saves a
full-page PNG named ``<page>-<width>x<height>.png``. Nothing here asserts anything: the pictures are for a person.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = {"home": "", "corpus": "corpus", "train": "train", "map": "map", "neighbours": "neighbours",
         "evaluate": "evaluate", "compare": "compare", "learn": "learn", "models": "models"}
SIZES = ((1440, 900), (390, 844))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(base: Path, models: Path, current: str | None = None) -> tuple[subprocess.Popen, str]:
    shutil.copytree(models, base / "models")
    if current:  # as if the visitor had chosen it on the Models page (ui/session.py keeps the choice there)
        (base / "models" / ".current-model.json").write_text(json.dumps({"path": str(base / "models" / current)}))
    env = dict(os.environ, W2V_MODELS_DIR=str(base / "models"), W2V_CACHE_DIR=str(base / "cache"),
               W2V_DATA_DIR=str(base / "data"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    port = free_port()
    log = open(base / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("streamlit did not start: " + (base / "streamlit.log").read_text()[-2000:])


def settle(page, timeout_s: float = 240.0) -> None:
    """Wait until the page has a title and Streamlit shows neither its running indicator nor a spinner."""
    page.wait_for_selector("h1", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:
        busy = page.locator('[data-testid="stStatusWidget"], [data-testid="stSpinner"]').count()
        quiet = quiet + 1 if busy == 0 else 0
        time.sleep(0.7)
    time.sleep(1.5)  # Plotly draws after the script has finished


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", required=True, help="a folder of saved models (copied, not changed)")
    ap.add_argument("--current", help="the model folder (under --models) to show as the current model")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated: " + ",".join(PAGES))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = serve(Path(tmp), Path(args.models), args.current)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=os.environ.get("W2V_CHROMIUM", "/usr/bin/chromium"),
                                            args=CHROMIUM_ARGS)
                for w, h in SIZES:
                    page = browser.new_page(viewport={"width": w, "height": h})
                    for name in args.pages.split(","):
                        page.goto(f"{url}/{PAGES[name]}")
                        settle(page)
                        page.screenshot(path=str(out / f"{name}-{w}x{h}.png"), full_page=True)
                        print(f"{name}-{w}x{h}.png", flush=True)
                    page.close()
                browser.close()
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
