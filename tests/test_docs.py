"""The documentation site: a strict MkDocs build of docs/, every page reachable from the
index, and the pages that restate facts (versions, layer files and commands) checked against
their sources, so they cannot go stale."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import MANIFEST, PROJECT_TEMPLATE, TEMPLATE, cached_venv

DOCS = TEMPLATE / "docs"
DOCS_REQUIREMENTS = DOCS / "requirements.txt"
DOCS_VENV = TEMPLATE / ".cache" / "docs-venv"
#: Material prints a banner about MkDocs 2.0 on every build unless this is set.
QUIET = {"NO_MKDOCS_2_WARNING": "1"}
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
PACKAGE = "{{cookiecutter.package_name}}"


@pytest.fixture(scope="module")
def mkdocs() -> Path:
    """The mkdocs of .cache/docs-venv, installed from docs/requirements.txt's exact pins."""
    python = cached_venv(DOCS_VENV, DOCS_REQUIREMENTS, ["-r", str(DOCS_REQUIREMENTS)])
    return python.parent / "mkdocs"


def build(mkdocs: Path, config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(mkdocs), "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        env={**os.environ, **QUIET},
        check=False,
    )


def pages() -> list[str]:
    """Every Markdown page under docs/, relative to it."""
    return sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md"))


def test_the_site_builds_strictly_with_every_page(mkdocs: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = build(mkdocs, TEMPLATE / "mkdocs.yml", site)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "WARNING" not in done.stderr, done.stderr[-4000:]
    built = {page for page in pages() if (site / page).with_suffix(".html").is_file()}
    assert built == set(pages())
    assert len(built) >= 25  # the general pages and one per layer
    # No page asks the network for fonts (theme.font: false).
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in home


def test_every_page_is_linked_from_the_index() -> None:
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    targets = {link.split("#")[0] for link in LINK.findall(text) if not re.match(r"[a-z]+:", link)}
    missing = set(pages()) - targets - {"index.md"}
    assert not missing, f"pages the index does not link: {sorted(missing)}"


@pytest.mark.parametrize(
    "broken",
    ["[gone](no-such-page.md)", "[gone](faq.md#no-such-anchor)", "[gone](../README.md)"],
)
def test_a_broken_link_fails_the_strict_build(mkdocs: Path, tmp_path: Path, broken: str) -> None:
    copy = tmp_path / "template"
    shutil.copytree(DOCS, copy / "docs")
    shutil.copy(TEMPLATE / "mkdocs.yml", copy / "mkdocs.yml")
    page = copy / "docs" / "quickstart.md"
    page.write_text(page.read_text(encoding="utf-8") + f"\nSee {broken}.\n", encoding="utf-8")
    done = build(mkdocs, copy / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    target = broken.split("(")[1].rstrip(")")
    assert f"'{target}'" in done.stderr, done.stderr[-3000:]


def pinned_version(source: str, package: str) -> str:
    """The version ``source`` (a pin file named as the compatibility page names it) gives."""
    if source == "cookiecutter.json":
        return ", ".join(json.loads((TEMPLATE / source).read_text())[package + "_version"])
    if source.endswith("package.json"):
        return json.loads((TEMPLATE / source).read_text())["dependencies"][package]
    base = PROJECT_TEMPLATE if source.startswith("requirements/") else TEMPLATE
    pins = {}
    for line in (base / source).read_text().splitlines():
        name, _, version = line.partition("==")
        if version:
            pins[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return pins.get(package.lower(), "not pinned")


def compatibility_rows() -> list[tuple[str, str, str]]:
    """(package, version, pin file) for each table row of docs/compatibility.md."""
    rows = []
    for line in (DOCS / "compatibility.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`") and cells[3].startswith("`"):
            rows.append((cells[1].strip("`"), cells[2], cells[3].strip("`")))
    return rows


def test_the_compatibility_page_matches_the_pins() -> None:
    rows = compatibility_rows()
    stale = [
        f"{package} {version} ({source} says {pinned_version(source, package)})"
        for package, version, source in rows
        if pinned_version(source, package) != version
    ]
    assert not stale, stale
    listed = {package for package, _, _ in rows}
    required = {"python", "mlflow", "apache-airflow", "dvc", "evidently", "torch", "fastapi"}
    required |= {"scikit-learn", "pandas", "kfp", "mkdocs", "mkdocs-material"}
    assert required <= listed, required - listed
    text = (DOCS / "compatibility.md").read_text(encoding="utf-8")
    assert f"template version `{MANIFEST['version']}`" in text


def test_a_stale_compatibility_row_is_caught() -> None:
    assert pinned_version("requirements/constraints.txt", "mlflow") != "0.0.1"
    assert pinned_version("requirements/constraints.txt", "no-such-package") == "not pinned"


_TAG = re.compile(r"\{%-?\s*(if|elif|else|endif)\b(.*?)-?%\}")


def _layer_of(condition: str) -> str | None:
    """The layer a Jinja condition switches on: layer_enabled("L"), or uses() of L's choice."""
    layers = re.findall(r'layer_enabled\("(\w+)"\)', condition)
    layers += [MANIFEST["choices"][c]["layer"] for c in re.findall(r'uses\("(\w+)"', condition)]
    return layers[-1] if layers else None


def layer_make_targets() -> dict[str, set[str]]:
    """Each layer's make targets: those the project Makefile defines inside its Jinja block
    (the innermost layer condition around the target; an else branch belongs to none)."""
    stack: list[str | None] = []
    targets: dict[str, set[str]] = {}
    for line in (PROJECT_TEMPLATE / "Makefile").read_text().splitlines():
        layer = next((layer for layer in reversed(stack) if layer), None)
        if layer and (match := re.match(r"([a-zA-Z][\w-]*)\s*:(?!=)", line)):
            targets.setdefault(layer, set()).add(match.group(1))
        for kind, condition in _TAG.findall(line):
            if kind == "if":
                stack.append(_layer_of(condition))
            elif kind == "elif":
                stack[-1] = _layer_of(condition)
            elif kind == "else":
                stack[-1] = None
            else:
                stack.pop()
    return targets


def test_the_makefile_parser_finds_layer_targets() -> None:
    targets = layer_make_targets()
    assert {"serve", "load"} <= targets["serving"]
    assert "drift" in targets["monitoring"]
    assert "test" not in set().union(*targets.values())  # base targets belong to no layer


@pytest.mark.parametrize("layer", sorted(MANIFEST["layers"]))
def test_each_layer_page_names_its_paths_and_commands(layer: str) -> None:
    page = DOCS / "layers" / f"{layer}.md"
    assert page.is_file(), f"no page docs/layers/{layer}.md"
    spans = set(CODE.findall(page.read_text(encoding="utf-8")))
    paths = [path.replace(PACKAGE, "<package>") for path in MANIFEST["layers"][layer]["paths"]]
    missing = [path for path in paths if path not in spans]
    assert not missing, f"docs/layers/{layer}.md does not name {missing}"
    commands = layer_make_targets().get(layer, set())
    unnamed = [
        target
        for target in sorted(commands)
        if not any(re.fullmatch(rf"make {re.escape(target)}(\s.*)?", span) for span in spans)
    ]
    assert not unnamed, f"docs/layers/{layer}.md does not name make {unnamed}"
