"""harmony's pytest plugin, seen from a user's suite: pytester runs users' test files
in-process with the plugin loaded through its entry point, as in a user's project."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from harmony._settings import parse_database_url
from harmony.testing import POSTGRES_URL_ENV, postgres_url_from_env

pytest_plugins = ["pytester"]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def docs_example(name: str) -> str:
    """The code block marked ``<!-- docs-example: NAME -->`` in docs/testing.md, verbatim."""
    pattern = re.compile(rf"<!-- docs-example: {name} -->\n```python\n(.*?)```", re.S)
    match = pattern.search(DOCS.read_text(encoding="utf-8"))
    assert match, f"docs/testing.md lost its '<!-- docs-example: {name} -->' block"
    return match.group(1)


def backend_outcomes(passed_on_each: int = 1) -> dict[str, int]:
    """What a backend-parametrised test file should report here: PostgreSQL cases pass
    when the server is configured and are skipped otherwise."""
    if postgres_url_from_env() is None:
        return {"passed": passed_on_each, "skipped": passed_on_each}
    return {"passed": 2 * passed_on_each}


def test_the_property_test_from_the_docs_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_docs_example=docs_example("property-test"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(**backend_outcomes())


#: A test on ``harmony_context``, then the fixtures example of docs/testing.md.
USERS_TEST = """
def test_enqueue_emits_worker_job(harmony_context, harmony_events):
    job = harmony_context.jobs.enqueue("email.send", {"to": "a@example.org"})
    (event,) = harmony_events.named("worker.job")
    assert event["entity_id"] == job.id and event["status"] == "enqueued"


""" + docs_example("fixtures")


def test_a_users_context_tests_pass_on_sqlite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USERS_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "sqlite", "-v")
    result.assert_outcomes(passed=2, deselected=2)
    result.stdout.fnmatch_lines(["*test_enqueue_emits_worker_job?sqlite? PASSED*"])


def test_postgresql_cases_are_skipped_without_a_server_even_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # harmony's own CI policy is not a user's: CI=true alone changes nothing.
    pytester.makepyfile(test_user=USERS_TEST)
    monkeypatch.delenv(POSTGRES_URL_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2, skipped=2)
    monkeypatch.setenv("CI", "true")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2, skipped=2)


@pytest.mark.parametrize(
    ("value", "ci", "fails"),
    [
        ("true", None, True),
        ("false", "true", False),
        ("ci", "true", True),
        ("ci", None, False),
        ("CI", "false", False),
        ("on", None, True),
    ],
)
def test_the_ini_option_makes_missing_postgresql_a_failure(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    ci: str | None,
    fails: bool,
) -> None:
    pytester.makepyfile(test_user=USERS_TEST + POSTGRES_IN_THE_BODY)
    pytester.makeini(f"[pytest]\nharmony_require_postgres = {value}\n")
    monkeypatch.delenv(POSTGRES_URL_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    if ci is not None:
        monkeypatch.setenv("CI", ci)
    result = pytester.runpytest("-p", "no:cacheprovider")
    if not fails:
        result.assert_outcomes(passed=2, skipped=3)
        return
    # Fixture-time skips become setup errors, a skip in the test body a failure.
    result.assert_outcomes(passed=2, errors=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*harmony_require_postgres is set: PostgreSQL test cases must not be skipped*"]
    )


#: A test that asks for the server in its body, as harmony's multi-process tests do.
POSTGRES_IN_THE_BODY = """

def test_needs_the_server():
    from harmony.testing.pytest_plugin import require_postgres_url
    require_postgres_url()
"""


def test_a_bad_ini_value_stops_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USERS_TEST)
    pytester.makeini("[pytest]\nharmony_require_postgres = sometimes\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*harmony_require_postgres = 'sometimes' is not valid; use true, false or ci*"]
    )


#: Uses every fixture that holds resources and reports what it held to ``held.json``; the
#: last test checks that the earlier tests' contexts were closed at their teardown.
LEAK_CHECK = """
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

CONTEXTS = []
HELD = {"schemas": [], "ports": []}


def _remember(ctx):
    CONTEXTS.append(ctx)
    if ctx.settings.database_schema:
        HELD["schemas"].append(ctx.settings.database_schema)


def test_context(harmony_context):
    _remember(harmony_context)


def test_factory_contexts_open_and_closed(harmony_context_factory, harmony_provider):
    _remember(harmony_context_factory(providers={"memory": harmony_provider}))
    with harmony_context_factory(settings={"cache_enabled": False}) as ctx:
        _remember(ctx)
    _remember(harmony_context_factory(migrate=False))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers())
def test_factory_under_hypothesis(harmony_context_factory, n):
    _remember(harmony_context_factory())


def test_fake_spotify(fake_spotify):
    HELD["ports"].append(int(fake_spotify.base_url.rsplit(":", 1)[1]))


def test_zz_everything_was_closed():
    assert CONTEXTS and all(ctx.closed for ctx in CONTEXTS)
    Path("held.json").write_text(json.dumps(HELD))
"""


def _existing_schemas(url: str, names: list[str]) -> list[str]:
    engine = create_engine(parse_database_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT schema_name FROM information_schema.schemata"
                    " WHERE schema_name = ANY(:names)"
                ),
                {"names": names},
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_the_fixtures_leave_nothing_behind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaks=LEAK_CHECK)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    # Three backend-parametrised tests, plus fake_spotify and the final check.
    expected = backend_outcomes(passed_on_each=3)
    expected["passed"] += 2
    result.assert_outcomes(**expected)
    held = json.loads((pytester.path / "held.json").read_text())
    assert held["ports"] and not any(_accepts_connections(port) for port in held["ports"])
    url = postgres_url_from_env()
    if url is not None:
        # 1 (harmony_context) + 3 (factory) + 3 (hypothesis examples), each its own schema.
        assert len(set(held["schemas"])) == 7
        assert _existing_schemas(url, held["schemas"]) == []
