"""examples/notebook.ipynb executed headless with nbclient, on SQLite and PostgreSQL.

The kernel is the ``python3`` kernelspec written by ipykernel into a temporary folder for
this interpreter (``sys.executable``), so whatever kernels are installed elsewhere never
matter, and the database comes from ``HARMONY_DATABASE_URL`` in that kernelspec's env.
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
import sqlalchemy as sa
from ipykernel.kernelspec import install as install_kernelspec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from harmony import HarmonyContext, HarmonySettings
from harmony.testing import InMemoryProvider

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.ipynb"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _execute(settings: HarmonySettings, folder: Path) -> Any:
    """Run the notebook on ``settings``' database in a fresh kernel; returns the notebook."""
    env = {"HARMONY_DATABASE_URL": settings.database_url}
    if settings.database_schema:
        env["HARMONY_DATABASE_SCHEMA"] = settings.database_schema
    prefix = folder / "jupyter"
    install_kernelspec(prefix=str(prefix), kernel_name="python3", env=env)
    specs = KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])
    kernel = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    spec = kernel.kernel_spec
    assert spec is not None and spec.argv[0] == sys.executable  # this interpreter: harmony

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        km=kernel,
        timeout=120,
        startup_timeout=60,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()  # raises CellExecutionError if any cell fails
    return notebook


def _outputs(notebook: Any) -> list[Any]:
    return [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]


def _printed(notebook: Any) -> str:
    return "".join(
        o.text for o in _outputs(notebook) if o.output_type == "stream" and o.name == "stdout"
    )


def _html_tables(notebook: Any) -> list[str]:
    return [
        o.data["text/html"]
        for o in _outputs(notebook)
        if o.output_type == "execute_result" and "<table" in o.data.get("text/html", "")
    ]


@pytest.fixture
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Connection files and IPython's profile in the test's folder, not the user's home."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return tmp_path


@pytest.mark.slow
def test_notebook_builds_explores_and_charts_the_sample_library(
    harmony_settings: HarmonySettings, jupyter_dirs: Path
) -> None:
    notebook = _execute(harmony_settings, jupyter_dirs)

    with HarmonyContext(harmony_settings) as ctx, ctx.db.connect() as conn:
        playlists = ctx.playlists.count()
        slots = conn.execute(sa.text("SELECT COUNT(*) FROM playlist_tracks")).scalar_one()
    assert playlists == 12  # the notebook used the database named in the environment

    printed = _printed(notebook)
    assert "synced the sample library: created=12 rejected=0" in printed
    assert "playlists: 12 rows" in printed
    assert f"playlist tracks: {slots} rows" in printed and slots > 100
    assert f"tracks per playlist: 12 rows, {slots} tracks in all" in printed
    activity = re.search(r"activity: (\d+) rows", printed)
    assert activity is not None and int(activity.group(1)) >= 2  # db.migrate and sync.run
    assert "search 'deja vu': 2 hits, best: Déjà Vu\n" in printed

    tables = _html_tables(notebook)
    assert len(tables) == 6  # playlists, tracks, artists, SQL, activity, search
    assert "Fresh Finds 2024" in tables[0] and "sync.run" in tables[4]
    assert "Chloé Dufresne" in tables[5]

    images = [o for o in _outputs(notebook) if "image/png" in o.get("data", {})]
    assert len(images) == 1
    png = base64.b64decode(images[0].data["image/png"])
    assert png.startswith(PNG_SIGNATURE) and len(png) > 5_000
    assert not [o for o in _outputs(notebook) if o.output_type == "error"]


@pytest.mark.slow
def test_notebook_reopens_a_filled_database_without_syncing_again(
    harmony_settings: HarmonySettings, jupyter_dirs: Path
) -> None:
    with HarmonyContext(harmony_settings, providers={"memory": _two_playlists()}) as ctx:
        ctx.migrate()
        assert ctx.sync.run_once().created == 2

    printed = _printed(_execute(harmony_settings, jupyter_dirs))

    assert "the database already holds 2 playlists; not syncing" in printed
    assert "playlists: 2 rows" in printed and "playlist tracks: 3 rows" in printed
    assert "search 'deja vu': 0 hits, best: None" in printed


def test_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert notebook.metadata.kernelspec.name == "python3"


def _two_playlists() -> InMemoryProvider:
    provider = InMemoryProvider()
    provider.set_playlist("a", "Alpha", [{"id": "t1", "title": "One", "artists": ["X"]}])
    provider.set_playlist(
        "b",
        "Beta",
        [
            {"id": "t2", "title": "Two", "artists": ["Y"]},
            {"id": "t1", "title": "One", "artists": ["X"]},
        ],
    )
    return provider
