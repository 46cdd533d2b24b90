"""The FastAPI example as it is deployed: two uvicorn servers and a separate worker process
on one database, every process with the default settings (response cache on).

After a ``POST /sync`` job completes in the worker process, no ``GET`` from either server
returns the old content or ETag, and ``If-None-Match`` with the old ETag gets 200, never
304. Real processes, real HTTP; the export the worker syncs is rewritten between rounds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harmony import HarmonySettings
from harmony.testing.pytest_plugin import SettingsFactory

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60.0
_HEADER = "Track URI,Track Name,Artist Name(s),Album Name,Duration (ms)\n"


def _write_export(folder: Path, tracks: int, title: str) -> None:
    rows = "".join(
        f"spotify:track:t{n},{title} {n},Artist {n},Album,{180_000 + n}\n" for n in range(tracks)
    )
    (folder / "Road_Trip.csv").write_text(_HEADER + rows, encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(settings: HarmonySettings, exports: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HARMONY_")}
    env["HARMONY_DATABASE_URL"] = settings.database_url
    if settings.database_schema:
        env["HARMONY_DATABASE_SCHEMA"] = settings.database_schema
    env["HARMONY_EXAMPLE_EXPORTS"] = str(exports)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


class _Deployment:
    def __init__(self, settings: HarmonySettings, tmp_path: Path) -> None:
        self.exports = tmp_path / "exports"
        self.exports.mkdir()
        _write_export(self.exports, 3, "Song")
        env = _environment(settings, self.exports)
        (tmp_path / "web_host.py").write_text(
            "from examples.fastapi_app import create_app\n"
            "app = create_app(run_worker=False)  # sync jobs run in the worker process\n"
        )
        self.procs: list[subprocess.Popen[bytes]] = []
        # One client for every request: httpx.get() builds a client (an SSL context among
        # it) per call, ~30 ms each, which was most of this test's time.
        self.client = httpx.Client(timeout=10)
        self.logs: list[Path] = []
        self.urls: list[str] = []
        # The worker process first: it migrates and runs every playlist.sync job.
        self._start(
            [
                sys.executable,
                str(ROOT / "examples" / "worker.py"),
                settings.database_url,
                "--exports",
                str(self.exports),
            ],
            env,
            tmp_path / "worker.log",
        )
        for n in range(2):
            port = _free_port()
            self._start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "web_host:app",
                    "--app-dir",
                    str(tmp_path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env,
                tmp_path / f"web-{n}.log",
            )
            self.urls.append(f"http://127.0.0.1:{port}")
        for url in self.urls:
            self._wait_up(url)

    def _start(self, command: list[str], env: dict[str, str], log: Path) -> None:
        with log.open("wb") as out:
            self.procs.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out))
        self.logs.append(log)

    def _wait_up(self, url: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            for proc, log in zip(self.procs, self.logs, strict=True):
                assert proc.poll() is None, f"{log.name} exited:\n{log.read_text(errors='replace')}"
            try:
                if self.client.get(url + "/playlists", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{url} did not come up")

    def sync(self) -> None:
        accepted = self.client.post(self.urls[0] + "/sync")
        assert accepted.status_code == 202, accepted.text
        job_url = self.urls[1] + accepted.json()["status_url"]  # asked of the other server
        deadline = time.monotonic() + WAIT_SECONDS
        while (job := self.client.get(job_url).json())["status"] != "completed":
            assert job["status"] in ("pending", "leased"), job
            assert time.monotonic() < deadline, f"the sync job did not complete: {job}"
            time.sleep(0.05)

    def close(self) -> None:
        self.client.close()
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def deployment(harmony_settings_factory: SettingsFactory, tmp_path: Path) -> Iterator[_Deployment]:
    settings = harmony_settings_factory()
    running = _Deployment(settings, tmp_path)
    try:
        yield running
    finally:
        running.close()


def _read(
    client: httpx.Client, url: str, playlist_id: int | None = None, etag: str | None = None
) -> httpx.Response:
    headers = {"If-None-Match": etag} if etag else {}
    path = "/playlists" if playlist_id is None else f"/playlists/{playlist_id}"
    return client.get(url + path, headers=headers)


def test_after_a_sync_job_no_server_serves_the_old_content_or_etag(deployment: _Deployment) -> None:
    client = deployment.client
    deployment.sync()
    [playlist] = _read(client, deployment.urls[0]).json()["items"]
    for round_ in range(3):
        # Both servers cache the list and the detail, and answer 304 for what they hold.
        before: dict[str, Any] = {}
        for url in deployment.urls:
            for _ in range(2):
                listing, detail = _read(client, url), _read(client, url, playlist["id"])
            assert _read(client, url, etag=listing.headers["etag"]).status_code == 304
            assert _read(client, url, playlist["id"], detail.headers["etag"]).status_code == 304
            before[url] = (listing.headers["etag"], detail.headers["etag"], detail.json())
        title = f"Round {round_}"
        _write_export(deployment.exports, 4 + round_, title)
        deployment.sync()
        for url in deployment.urls:
            old_list, old_detail, old_body = before[url]
            listing, detail = _read(client, url), _read(client, url, playlist["id"])
            assert detail.headers["etag"] != old_detail and listing.headers["etag"] != old_list
            assert [t["title"] for t in detail.json()["tracks"]] == [
                f"{title} {n}" for n in range(4 + round_)
            ]
            assert detail.json() != old_body
            # The old ETags are stale everywhere: full answers, never 304.
            assert _read(client, url, etag=old_list).status_code == 200
            assert _read(client, url, playlist["id"], old_detail).status_code == 200
            assert _read(client, url, playlist["id"], detail.headers["etag"]).status_code == 304
