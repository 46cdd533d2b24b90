"""The error tree: drawn in the errors docstring, single inheritance, ContextClosed on every
closed path, SyncFailed apart from provider errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import harmony
import harmony.errors
from harmony import (
    ContextClosed,
    DatabaseError,
    HarmonyContext,
    HarmonyError,
    InvalidInputError,
    ProviderError,
    SyncFailed,
    SyncReport,
    UnknownProviderError,
    Worker,
)
from harmony.contrib.fastapi import HarmonyDep, install_error_handlers, lifespan
from harmony.http import error_body, status_for
from harmony.testing import InMemoryProvider
from harmony.testing.pytest_plugin import ContextFactory
from tests.http_support import harmony_error_classes
from tests.servers import serve_asgi

_TREE_LINE = re.compile(r"^(?P<indent>[ │]*)(?:[├└]── )?(?P<name>\w+)(?:\s+also (?P<also>\w+))?$")
#: The standard exceptions a harmony error may also be (see the errors docstring).
_STDLIB_BASES = {ValueError, ImportError, LookupError}


def _drawn_tree() -> dict[str, tuple[str | None, str | None]]:
    """{class name: (drawn parent, drawn standard base)} from the errors docstring."""
    doc = harmony.errors.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    drawn: dict[str, tuple[str | None, str | None]] = {}
    parents: list[str] = []
    for line in block.splitlines():
        match = _TREE_LINE.match(line.strip("\n")[4:])  # the block is indented by 4
        assert match is not None, f"cannot read the tree line {line!r}"
        depth = len(match["indent"]) // 4 + (1 if "──" in line else 0)
        del parents[depth:]
        name = match["name"]
        assert name not in drawn, f"{name} is drawn twice"
        drawn[name] = (parents[-1] if parents else None, match["also"])
        parents.append(name)
    return drawn


def test_the_docstring_draws_every_error_class_with_its_real_bases() -> None:
    drawn = _drawn_tree()
    assert set(drawn) == set(harmony.errors.__all__)
    for name, (parent, also) in drawn.items():
        cls = getattr(harmony.errors, name)
        harmony_bases = [b for b in cls.__bases__ if issubclass(b, HarmonyError)]
        other = [b for b in cls.__bases__ if not issubclass(b, HarmonyError)]
        expected_parent = [getattr(harmony.errors, parent)] if parent else []
        assert harmony_bases == expected_parent, name
        standard = {cls.__name__: cls for cls in _STDLIB_BASES}
        assert other == ([standard[also]] if also else [Exception] if parent is None else []), name


def test_every_error_has_one_harmony_parent_and_at_most_one_justified_standard_base() -> None:
    for cls in harmony_error_classes():
        if cls is HarmonyError:
            continue
        harmony_bases = [b for b in cls.__bases__ if issubclass(b, HarmonyError)]
        assert len(harmony_bases) == 1, cls
        others = set(cls.__bases__) - set(harmony_bases)
        assert others <= _STDLIB_BASES and len(others) <= 1, cls
        # No standard base arrives twice (a diamond through two harmony parents).
        stdlib_in_mro = [b for b in cls.__mro__ if b in _STDLIB_BASES]
        assert len(stdlib_in_mro) <= 1, cls


def test_the_moved_classes_catch_what_the_changelog_says() -> None:
    unknown = UnknownProviderError("no provider named 'x'")
    assert isinstance(unknown, InvalidInputError) and not isinstance(unknown, ProviderError)
    failed = SyncFailed("sync failed for x: boom", SyncReport())
    assert not isinstance(failed, ProviderError)
    missing = harmony.MissingExtraError("needs psycopg")
    assert isinstance(missing, ImportError) and not isinstance(missing, ValueError)
    assert not isinstance(missing, harmony.ConfigurationError)
    closed = ContextClosed("closed")
    assert not isinstance(closed, DatabaseError)


def test_architecture_md_draws_the_same_tree() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text("utf-8")
    block = (harmony.errors.__doc__ or "").split("::\n\n", 1)[1].split("\n\n", 1)[0]
    drawing = "\n".join(line[4:] for line in block.splitlines())
    assert drawing in doc


# -- closed contexts ------------------------------------------------------------------------


def _closed_calls(
    ctx: HarmonyContext, playlist_id: int, folder: Path
) -> dict[str, Callable[[], Any]]:
    return {
        "migrate": ctx.migrate,
        "migrations.current": ctx.migrations.current,
        "playlists.get (cached before)": lambda: ctx.playlists.get(playlist_id),
        "playlists.list_page": ctx.playlists.list_page,
        "playlists.find": lambda: ctx.playlists.find("memory", "a"),
        "tracks.find": lambda: ctx.tracks.find("memory", "t1"),
        "activity.record": lambda: ctx.activity.record("a.b", "ok"),
        "activity.list": ctx.activity.list,
        "credentials.set": lambda: ctx.credentials.set("x", token="t"),
        "credentials.get": lambda: ctx.credentials.get("x"),
        "providers.status": lambda: ctx.providers.status("memory"),
        "jobs.enqueue": lambda: ctx.jobs.enqueue("a.b", {}),
        "jobs.lease": lambda: ctx.jobs.lease(["a.b"]),
        "jobs.stats": ctx.jobs.stats,
        "sync.run_once": ctx.sync.run_once,
        "sync.plan": ctx.sync.plan,
        "search.tracks": lambda: ctx.search.tracks("song"),
        "export.playlist": lambda: ctx.export.playlist(
            playlist_id, folder / "x.m3u8", target="memory"
        ),
        "add_provider": lambda: ctx.add_provider("other", InMemoryProvider()),
        "worker.run_until_idle": lambda: Worker(ctx).run_until_idle(),
        "worker.run": lambda: Worker(ctx).run(),
        "worker.start": lambda: Worker(ctx).start(),
        "db.transaction": lambda: ctx.db.transaction().__enter__(),
    }


def test_every_call_on_a_closed_context_raises_context_closed(
    harmony_context_factory: ContextFactory, tmp_path: Path
) -> None:
    memory = InMemoryProvider()
    memory.set_playlist("a", "A", tracks=[{"id": "t1", "title": "Song", "artists": ["A"]}])
    ctx = harmony_context_factory(providers={"memory": memory})
    (playlist_id,) = ctx.sync.run_once().playlist_ids
    ctx.playlists.get(playlist_id)
    ctx.close()
    raised = {}
    for name, call in _closed_calls(ctx, playlist_id, tmp_path).items():
        try:
            call()
        except Exception as exc:
            raised[name] = type(exc).__name__
        else:
            raised[name] = "nothing"
    assert raised == dict.fromkeys(raised, "ContextClosed")
    assert status_for(ContextClosed("closed")) == 503


def test_a_context_closed_under_a_fastapi_app_answers_503_context_closed(
    harmony_settings_factory: Any,
) -> None:
    app = FastAPI(lifespan=lifespan(settings=harmony_settings_factory()))
    install_error_handlers(app)

    @app.post("/close")
    def close(ctx: HarmonyDep) -> None:
        ctx.close()

    @app.get("/count")
    def count(ctx: HarmonyDep) -> int:
        return ctx.playlists.count()

    with serve_asgi(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/count").json() == 0
        client.post("/close")
        response = client.get("/count")
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "ContextClosed"


# -- SyncFailed -----------------------------------------------------------------------------


class _Failing(InMemoryProvider):
    """A provider whose listing fails upstream."""

    def iter_playlists(self) -> Any:
        raise ProviderError("upstream answered 500")


def test_a_failed_provider_is_the_cause_of_sync_failed_and_answers_502(
    harmony_context_factory: ContextFactory,
) -> None:
    good = InMemoryProvider()
    good.set_playlist("a", "A", tracks=[])
    ctx = harmony_context_factory(providers={"bad": _Failing(), "good": good})
    with pytest.raises(SyncFailed) as info:
        ctx.sync.run_once()
    failed = info.value
    assert isinstance(failed.report, SyncReport) and failed.report.created == 1
    assert set(failed.report.failed) == {"bad"}
    assert isinstance(failed.__cause__, ProviderError)
    assert status_for(failed) == 502
    assert error_body(failed)["error"]["report"]["created"] == 1


def test_sync_failed_by_the_database_is_no_provider_error_and_answers_503(
    harmony_context_factory: ContextFactory,
) -> None:
    good = InMemoryProvider()
    good.set_playlist("a", "A", tracks=[{"id": "t1", "title": "Song", "artists": ["A"]}])
    ctx = harmony_context_factory(providers={"good": good}, migrate=False)  # no tables
    with pytest.raises(SyncFailed) as info:
        try:
            ctx.sync.run_once()
        except ProviderError:  # what a host's handler for provider failures catches
            pytest.fail("a database failure was caught as a ProviderError")
    failed = info.value
    assert isinstance(failed.__cause__, DatabaseError)
    assert set(failed.report.failed) == {"good"}
    assert status_for(failed) == 503
