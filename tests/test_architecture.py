"""The layers of harmony (docs/architecture.md), enforced over the source's import statements.

Rules:

- public modules are exactly ``harmony``, ``harmony.errors``, ``harmony.http``,
  ``harmony.providers.*``, ``harmony.testing.*`` and ``harmony.contrib.*``; everything else
  lives under a leading underscore;
- ``_repositories`` import nothing from ``_services``, ``_cli`` or ``contrib``;
- ``_db`` imports nothing from ``_repositories`` or ``_services``;
- ``_services`` do no connection or engine management: no ``sqlalchemy.engine``,
  ``sqlalchemy.pool``, ``sqlalchemy.event``, ``sqlalchemy.dialects``, ``create_engine``,
  ``Connection``, ``Engine`` or ``inspect``; and they build no SQL either (``select``,
  ``text``, ``func``, ``insert``...): queries live in ``_repositories``. The ORM
  ``Session`` a handler receives and ``sqlalchemy.exc`` stay allowed;
- ``_cli`` imports from harmony only the public modules and its own ``_cli.*``, and no
  SQLAlchemy: it is a client of the public API;
- no doc code block, README block or example imports a private module (or an old path).

Debts (today's code that breaks a rule) are listed in ``ALLOWED`` with the reason and the
part of issue 14 that removes them; an entry that no longer matches anything fails too, so
the list only shrinks.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "harmony"

PUBLIC_TOP = {"errors", "http", "providers", "testing", "contrib"}
# The names before the underscore (harmony._compat keeps them importable for a release).
OLD_PATHS = {"cache", "cli", "db", "events", "migrations", "repositories", "services"}
OLD_PATHS |= {"clock", "context", "settings", "textnorm", "validation"}
SA_CONNECTION = {"create_engine", "Connection", "Engine", "inspect", "event"}
SA_CONNECTION_MODULES = tuple(
    f"sqlalchemy.{name}" for name in ("engine", "pool", "event", "dialects")
)
SA_SQL = {
    "select",
    "text",
    "func",
    "insert",
    "update",
    "delete",
    "bindparam",
    "literal",
    "and_",
    "or_",
    "exists",
    "case",
    "union_all",
    "null",
    "tuple_",
    "column",
    "table",
}


@dataclass(frozen=True)
class Import:
    module: str  # e.g. "harmony._cli.library"
    line: int
    target: str  # imported module ("sqlalchemy.orm") or "module:name" for from-imports

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[Import]:
    name = module_name(path)
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{name}:{node.lineno}: relative import"
            found += [
                Import(name, node.lineno, f"{node.module}:{alias.name}") for alias in node.names
            ]
    return found


ALL_IMPORTS = [imp for path in sorted(SRC.rglob("*.py")) for imp in imports_of(path)]


def in_layer(imp: Import, layer: str) -> bool:
    return imp.module == f"harmony.{layer}" or imp.module.startswith(f"harmony.{layer}.")


def target_module(imp: Import) -> str:
    return imp.target.split(":")[0]


def targets(imp: Import, *layers: str) -> bool:
    module = target_module(imp)
    return any(module == f"harmony.{x}" or module.startswith(f"harmony.{x}.") for x in layers)


def is_public(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "harmony" and (len(parts) == 1 or parts[1] in PUBLIC_TOP)


# Debts: "module:target" -> why it is allowed today. Keep each entry commented with the
# part of issue 14 that pays it back.
ALLOWED: dict[str, str] = {
    # Item 3 (queue store): JobQueue is in practice a service; its handler registry and
    # retry policy are type-only imports (under TYPE_CHECKING) of the services layer.
    "harmony._repositories.jobs -> harmony._services.handlers:Handler": "queue store",
    "harmony._repositories.jobs -> harmony._services.handlers:HandlerRegistry": "queue store",
    "harmony._repositories.jobs -> harmony._services.handlers:LegacyHandler": "queue store",
    "harmony._repositories.jobs -> harmony._services.retry:RetryPolicy": "queue store",
    # The scheduler's lease_ready_jobs takes the queue store's lease connection as a
    # parameter (a type only); it should take the lane.
    "harmony._services.scheduler -> sqlalchemy:Connection": "queue store",
    # The CLI checks a playlist name the way harmony stores text; a public helper (or the
    # error of the write itself) would do.
    "harmony._cli.library -> harmony._validation:unstorable_reason": "public text check",
}


def key(imp: Import) -> str:
    return f"{imp.module} -> {imp.target}"


def violations() -> dict[str, list[Import]]:
    found: dict[str, list[Import]] = {}

    def flag(rule: str, imp: Import) -> None:
        found.setdefault(rule, []).append(imp)

    for imp in ALL_IMPORTS:
        module, name = target_module(imp), imp.target.partition(":")[2]
        if in_layer(imp, "_repositories") and targets(imp, "_services", "_cli", "contrib"):
            flag("repositories import no services, CLI or contrib", imp)
        if in_layer(imp, "_db") and targets(imp, "_repositories", "_services"):
            flag("db imports no repositories or services", imp)
        if in_layer(imp, "_services") and module.split(".")[0] == "sqlalchemy":
            if module.startswith(SA_CONNECTION_MODULES) or name in SA_CONNECTION:
                flag("services manage no connections or engines", imp)
            elif name in SA_SQL:
                flag("services build no SQL (repositories do)", imp)
        if in_layer(imp, "_cli"):
            if module.split(".")[0] == "sqlalchemy":
                flag("the CLI uses no SQLAlchemy", imp)
            elif module.split(".")[0] == "harmony" and not (
                is_public(module) or module == "harmony._cli" or module.startswith("harmony._cli.")
            ):
                flag("the CLI imports only public harmony modules", imp)
    return found


def test_layers_hold_except_for_the_listed_debts() -> None:
    broken = [
        f"{rule}: {imp}"
        for rule, imps in violations().items()
        for imp in imps
        if key(imp) not in ALLOWED
    ]
    assert broken == [], "\n".join(broken)


def test_every_allowed_debt_still_exists() -> None:
    # A paid debt must leave the list, so that it cannot come back unnoticed.
    current = {key(imp) for imps in violations().values() for imp in imps}
    assert sorted(set(ALLOWED) - current) == []


def test_the_rules_catch_a_violation() -> None:
    # The checker itself can fail: a repository importing a service is flagged.
    imp = Import("harmony._repositories.playlists", 1, "harmony._services.sync:SyncEngine")
    ALL_IMPORTS.append(imp)
    try:
        assert imp in violations()["repositories import no services, CLI or contrib"]
    finally:
        ALL_IMPORTS.remove(imp)


def test_only_the_documented_modules_are_public() -> None:
    public = sorted(
        module_name(path)
        for path in SRC.rglob("*.py")
        if not any(
            part.startswith("_") and part != "__init__.py" for part in path.relative_to(SRC).parts
        )
    )
    unexpected = [name for name in public if not is_public(name) and name != "harmony.__main__"]
    assert unexpected == [], f"public modules outside the boundary: {unexpected}"


def test_no_module_of_harmony_uses_an_old_path() -> None:
    old = [
        str(imp)
        for imp in ALL_IMPORTS
        if target_module(imp).split(".")[:2][-1] in OLD_PATHS
        and target_module(imp).startswith("harmony.")
    ]
    assert old == []


# -- docs and examples ---------------------------------------------------------------------

FENCE = re.compile(r"^([ \t]*)```(?:python|py|pycon)[ \t]*\n(.*?)^\1```", re.S | re.M)
IMPORT_LINE = re.compile(
    r"^\s*(?:>>>\s*)?(?:from\s+(harmony[\w.]*)\s+import|import\s+(harmony[\w.]*))", re.M
)


def code_sources() -> list[tuple[str, str]]:
    sources: list[tuple[str, str]] = []
    for path in sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]):
        text = path.read_text(encoding="utf-8")
        for number, match in enumerate(FENCE.finditer(text), 1):
            sources.append((f"{path.relative_to(ROOT)} block {number}", match.group(2)))
    for path in sorted((ROOT / "examples").glob("*.py")):
        sources.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))
    for path in sorted((ROOT / "examples").glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for number, cell in enumerate(notebook["cells"], 1):
            if cell["cell_type"] == "code":
                sources.append((f"{path.relative_to(ROOT)} cell {number}", "".join(cell["source"])))
    return sources


def test_docs_and_examples_have_code_to_check() -> None:
    sources = code_sources()
    assert len(sources) > 20
    assert sum(bool(IMPORT_LINE.search(code)) for _, code in sources) > 10


CODE_SOURCES = code_sources()


@pytest.mark.parametrize("where, code", CODE_SOURCES, ids=[where for where, _ in CODE_SOURCES])
def test_docs_and_examples_import_only_public_modules(where: str, code: str) -> None:
    private = [
        m.group(1) or m.group(2)
        for m in IMPORT_LINE.finditer(code)
        if not is_public(m.group(1) or m.group(2))
    ]
    assert private == [], f"{where} imports private modules: {private}"
