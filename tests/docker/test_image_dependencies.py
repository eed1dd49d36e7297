"""The image installs only pyproject's runtime dependencies (not the dev tools in the lock):
every package the code it copies imports must come with them, or the container dies at
start with a ModuleNotFoundError that no test run in the full dev venv would show."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.docker.dockerfile import REPO, DockerIgnore, context_files, copies, parse


def runtime_closure() -> set[str]:
    """pyproject's [project.dependencies] and everything they pull in, as installed here."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    todo = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        for raw in metadata.requires(req.name) or []:
            sub = Requirement(raw)
            # Extras nobody asked for are not installed; other markers as on this machine.
            if sub.marker is None or sub.marker.evaluate({"extra": ""}):
                todo.append(sub)
    return seen


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> set[str]:
    """Top-level names of absolute imports, leaving out `if TYPE_CHECKING:` blocks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_every_third_party_import_of_the_image_code_is_a_runtime_dependency() -> None:
    ignore = DockerIgnore.load()
    files = [
        REPO / rel
        for copy in copies(parse()[-1])
        if copy.from_stage is None
        for source in copy.sources
        for rel in context_files(REPO / source, ignore)
        if rel.endswith(".py")
    ]
    assert any(f.name == "main.py" for f in files)
    local = {Path(s.rstrip("/")).stem for c in copies(parse()[-1]) for s in c.sources}
    providers = metadata.packages_distributions()
    closure = runtime_closure()
    missing = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for module in sorted(runtime_imports(tree)):
            if module in sys.stdlib_module_names or module in local or module == "__future__":
                continue
            dists = {canonicalize_name(d) for d in providers.get(module, [])}
            if not dists & closure:
                where = path.relative_to(REPO)
                missing.append(f"{where}: import {module} ({', '.join(sorted(dists)) or '?'})")
    assert not missing, "not installed in the image:\n" + "\n".join(missing)
