"""Cost of a pooled PostgreSQL connection checkout, by liveness check.

    HARMONY_TEST_POSTGRES_URL=postgresql+psycopg://... python benchmarks/bench_checkout.py [--n 20000]

Times ``with engine.connect(): pass`` (checkout and checkin, no statement) and a
one-statement transaction, for: harmony's engine (a zero-timeout ``select()`` on the
socket, a ping only when the server spoke or the connection sat idle), the same engine
without any check, and SQLAlchemy's ``pool_pre_ping=True`` (a ping per checkout).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from sqlalchemy import Engine, create_engine, text

from harmony import HarmonySettings
from harmony._db import engine as engine_module
from harmony._db.engine import build_engine


def _per_call_us(n: int, body: Callable[[], None]) -> float:
    for _ in range(min(n, 500)):
        body()
    started = time.perf_counter()
    for _ in range(n):
        body()
    return (time.perf_counter() - started) / n * 1e6


def _measure(engine: Engine, n: int) -> tuple[float, float]:
    def checkout() -> None:
        with engine.connect():
            pass

    def statement() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return _per_call_us(n, checkout), _per_call_us(n, statement)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    url = os.environ["HARMONY_TEST_POSTGRES_URL"]
    harmony = build_engine(HarmonySettings(database_url=url))
    bare = create_engine(HarmonySettings(database_url=url).url)  # no liveness check at all
    pre_ping = create_engine(HarmonySettings(database_url=url).url, pool_pre_ping=True)
    print(f"per call, microseconds ({args.n} calls each)")
    print("| engine | checkout + checkin | checkout + SELECT 1 |")
    print("| --- | ---: | ---: |")
    idle_only = build_engine(HarmonySettings(database_url=url))
    spoke = engine_module._server_spoke
    for name, engine in (
        ("no check", bare),
        ("harmony: ping after 2 s idle only", idle_only),
        ("harmony: and select() on the socket", harmony),
        ("pool_pre_ping=True", pre_ping),
    ):
        if engine is idle_only:
            engine_module._server_spoke = lambda _connection: False  # type: ignore[assignment]
        checkout, statement = _measure(engine, args.n)
        engine_module._server_spoke = spoke  # type: ignore[assignment]
        print(f"| {name} | {checkout:.1f} | {statement:.1f} |")
        engine.dispose()


if __name__ == "__main__":
    main()
