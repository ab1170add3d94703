"""The walkthrough notebook is valid nbformat and runs top to bottom."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_valid(path: Path):
    nbformat.validate(nbformat.read(path, as_version=4))


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch):
    prefix = "{{ cookiecutter.package_name|upper }}_"
    for name in ("DATA_DIR", "MODELS_DIR", "REPORTS_DIR"):
        monkeypatch.setenv(prefix + name, str(tmp_path / name.lower()))
    notebook = nbformat.read(path, as_version=4)

    NotebookClient(
        notebook, timeout=None, resources={"metadata": {"path": str(path.parent)}}
    ).execute()

    assert (tmp_path / "reports_dir" / "metrics.json").exists()
