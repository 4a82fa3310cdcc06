"""The house by stage: the package's folders follow the data flow, and its rules hold.

signal -> datasets -> models -> training -> evaluation -> experiments -> search; models only
build, no module imports one that (directly or not) imports it, no file over 600 lines, and
every file says in its first line what it is for."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vocalsearch_tf"
STAGES = ("signal", "datasets", "models", "training", "evaluation", "experiments", "search")
UPSTREAM_OF_MODELS = ("training", "evaluation", "datasets", "experiments", "search")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """Every package module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vocalsearch_tf"):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("vocalsearch_tf")}
    return {name for name in found if name in MODULES and name != "vocalsearch_tf"}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def test_the_top_level_is_a_short_list_of_stages():
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(top) <= 6, top
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert set(STAGES) <= set(folders), folders


def test_models_only_build():
    for name, imported in GRAPH.items():
        if name.startswith("vocalsearch_tf.models"):
            upstream = [m for m in imported if m.split(".")[1] in UPSTREAM_OF_MODELS]
            assert not upstream, f"{name} imports {upstream}"


def test_no_import_circle():
    done, path = set(), []

    def visit(name):
        if name in path:
            pytest.fail("import circle: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        path.append(name)
        for other in sorted(GRAPH[name]):
            visit(other)
        path.pop()
        done.add(name)

    for name in sorted(GRAPH):
        visit(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_file_is_short_and_says_what_it_is_for(name):
    path = MODULES[name]
    source = path.read_text()
    assert len(source.splitlines()) <= 600, f"{path}: {len(source.splitlines())} lines"
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring and docstring.strip(), f"{path}: no docstring saying what it is for"
