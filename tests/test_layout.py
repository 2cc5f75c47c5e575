"""The layers hold: the core has no import cycle (function-level imports included) and never imports Streamlit;
the app uses no Streamlit internals; page scripts stay short (helpers live in ui/)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "w2v_core"
MAX_PAGE_LINES = 300


def _imports(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement sits (top level or inside a function)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)  # from w2v_core import store
    return out


def _modules(folder: Path) -> dict[str, Path]:
    """A package's modules by dotted name inside it (``data.corpus``; a sub-package's ``__init__`` is ``data``)."""
    out = {}
    for p in folder.rglob("*.py"):
        rel = p.relative_to(folder).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if parts:
            out[".".join(parts)] = p
    return out


def package_graph(folder: Path) -> dict[str, set[str]]:
    """Which modules of a package (sub-packages included) import which others (dotted names without the package)."""
    modules = _modules(folder)
    prefix = f"{folder.name}."
    graph = {}
    for m, path in modules.items():
        deps = {i[len(prefix):] for i in _imports(path) if i.startswith(prefix)}
        graph[m] = {d for d in deps if d in modules and d != m}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of module names (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return path[path.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_find_cycle_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_core_has_no_import_cycle():
    graph = package_graph(CORE)
    assert "data.loader" in graph and "data.corpus" in graph and "store" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
    assert graph["data.corpus"] == {"errors", "data.scripts"}  # the leaf every source builds on (and its Unicode rules)
    assert graph["data.scripts"] == set()


def test_the_core_is_layered_data_below_word2vec_below_serving():
    """data/ builds only on the leaves (errors, the server's settings); nothing outside serve/ imports serve/."""
    graph = package_graph(CORE)
    assert {m for m in graph if m.startswith("serve.")} and {m for m in graph if m.startswith("data.")}
    for m, deps in graph.items():
        if m.startswith("data."):
            assert all(d.startswith("data") or d in ("errors", "settings") for d in deps), (m, deps)
        if not m.startswith("serve"):
            assert not any(d.startswith("serve") for d in deps), (m, deps)
    assert graph["settings"] == {"errors"} and graph["errors"] == set()


def test_the_training_modules_build_on_each_other_in_one_direction():
    """kernels (the compiled steps) < models (the paper's model) < workers (the pool) < training (the epoch loop);
    the divergence watch and the progress reports stand on their own, so any of them can be read alone."""
    graph = package_graph(CORE)
    assert graph["kernels"] == set()
    assert graph["hsoftmax"] == {"kernels", "hs_loop"}  # hierarchical softmax's tree and steps, beside the kernels
    assert graph["hs_loop"] == {"kernels"}  # its CPU training loop (numba)
    assert graph["subwords"] == {"errors"}  # fastText's n-grams and hash
    assert graph["subword_steps"] == {"kernels", "windows"}  # the subword model's steps, beside the kernels
    assert graph["models"] == {"errors", "kernels", "hsoftmax", "subwords", "subword_steps"}
    assert graph["progress"] == set() and graph["divergence"] == {"errors"}
    assert graph["workers"] <= {"errors", "kernels", "hsoftmax", "subword_steps", "models", "windows"}
    assert {"workers", "divergence", "progress", "kernels", "models"} <= graph["training"]
    below = ("kernels", "hsoftmax", "hs_loop", "subwords", "subword_steps", "models", "workers", "divergence", "progress", "windows", "vocab")
    assert not any("training" in graph[m] for m in below)


def test_the_ui_helpers_have_no_import_cycle():
    graph = package_graph(ROOT / "ui")
    assert "shell" in graph and "session" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_core_never_imports_streamlit():
    files = sorted(CORE.rglob("*.py"))
    assert CORE / "data" / "loader.py" in files
    for p in files:
        assert not any(i == "streamlit" or i.startswith("streamlit.") for i in _imports(p)), p.name


def _app_files() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py")),
            *sorted((ROOT / "tests").glob("*.py"))]


# What no file may name: Streamlit's private modules and classes. Spelled in pieces so that this test, which only
# looks for them, does not itself name them.
_RUNTIME = "streamlit" + "." + "runtime"
_PRIVATE = re.compile("|".join([r"\bst\._\w", re.escape(_RUNTIME), "Pages" + "Manager", "script" + "runner"]))


def test_no_streamlit_internals_in_the_app_or_its_tests():
    for p in _app_files():
        text = p.read_text(encoding="utf-8")
        found = _PRIVATE.search(text)
        assert not found, f"{p.relative_to(ROOT)}: {found.group(0) if found else ''}"
        assert not any(i.startswith(_RUNTIME) for i in _imports(p)), p.name


def test_page_scripts_are_short_and_only_pages_live_in_pages():
    pages = sorted((ROOT / "pages").glob("*.py"))
    assert pages
    for p in pages:
        assert not p.name.startswith("_"), f"{p.name}: helpers belong in ui/, not among the pages"
        n = len(p.read_text(encoding="utf-8").splitlines())
        assert n <= MAX_PAGE_LINES, f"{p.name} has {n} lines"
