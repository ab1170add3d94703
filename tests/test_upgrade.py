"""Upgrade baked projects (their own tools/upgrade.py) to other stages, layers and versions.

Every test bakes from a git copy of this checkout (``template_repo``), so the recorded template
commit is real; tests that need a newer template version commit one on top of a clone.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (
    MANIFEST,
    QUIET_ENV,
    TEMPLATE,
    assert_suite_passed,
    bake_ok,
    expected_files,
    layer_manifest,
    project_files,
    run_project_tests,
)

OUTCOMES = ("added", "updated", "merged", "conflicted", "kept", "removed", "skipped")
BUILT_STAGES = [
    stage
    for stage, spec in MANIFEST["stages"].items()
    if not layer_manifest.unbuilt(MANIFEST, spec["layers"])
]
HIGHEST = BUILT_STAGES[-1]


def addable_layer(stage: str) -> str:
    """The last layer of ``stage`` that no other layer of it requires (it can be left out)."""
    layers = MANIFEST["stages"][stage]["layers"]
    needed = {need for layer in layers for need in MANIFEST["layers"][layer]["requires"]}
    return [layer for layer in layers if layer not in needed][-1]


ADDED = addable_layer(HIGHEST)
#: Built layers of later stages that a project at the highest built stage can switch on now.
LATER = [
    layer
    for layer, spec in MANIFEST["layers"].items()
    if spec["built"]
    and layer not in MANIFEST["stages"][HIGHEST]["layers"]
    and set(spec["requires"]) <= set(MANIFEST["stages"][HIGHEST]["layers"])
]
#: (id, answers baked with, upgrade arguments, answers a fresh bake of the result takes):
#: every stage path the manifest offers, one layer switched on in an existing project, and
#: the later stages' built layers switched on all at once.
UPGRADES = [
    (f"stage{old}-to-{new}", {"maturity_stage": old}, ["--stage", new], {"maturity_stage": new})
    for old in BUILT_STAGES
    for new in BUILT_STAGES
    if int(old) < int(new)
]
UPGRADES.append(
    (
        f"stage{HIGHEST}-add-{ADDED}",
        {"maturity_stage": HIGHEST, f"layer_{ADDED}": "off"},
        ["--layers", ADDED],
        {"maturity_stage": HIGHEST, f"layer_{ADDED}": "on"},
    )
)
if LATER:
    UPGRADES.append(
        (
            f"stage{HIGHEST}-add-{'-'.join(LATER)}",
            {"maturity_stage": HIGHEST},
            ["--layers", ",".join(LATER)],
            {"maturity_stage": HIGHEST, **{f"layer_{layer}": "on" for layer in LATER}},
        )
    )
IDS = [case[0] for case in UPGRADES]
#: The edited upgrade that `make test` runs (the first stage path: the cheapest suite); `make
#: test-all` runs every path's.
EVERYDAY_UPGRADE = f"stage{BUILT_STAGES[0]}-to-{BUILT_STAGES[1]}"
EDITED_UPGRADES = [
    pytest.param(*case, id=case[0], marks=() if case[0] == EVERYDAY_UPGRADE else pytest.mark.matrix)
    for case in UPGRADES
]
#: Every edited upgrade equals a fresh bake carrying the same edits; these also run the suite:
#: the first stage path, and the longest (the others' suites would run the same files again).
SUITE_UPGRADES = [
    case
    for case in EDITED_UPGRADES
    if case.id in (EVERYDAY_UPGRADE, f"stage{BUILT_STAGES[0]}-to-{HIGHEST}")
]
#: Every choice answered with its last option, in a project at the highest built stage.
OTHER_SYSTEMS = {key: list(spec["options"])[-1] for key, spec in MANIFEST["choices"].items()}
PACKAGE = "customer_churn"
CONFLICT = re.compile(rb"^(<<<<<<<|>>>>>>>) ", re.MULTILINE)
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}


def git(cwd: Path, *args: str, env: dict | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_IDENTITY, **(env or {})},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def commit_all(folder: Path, message: str, env: dict | None = None) -> str:
    git(folder, "add", "-A", env=env)
    git(folder, "commit", "-q", "-m", message, env=env)
    return git(folder, "rev-parse", "HEAD", env=env).strip()


def upgrade(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The project's own upgrade command, as `make upgrade` runs it."""
    return subprocess.run(
        [sys.executable, "tools/upgrade.py", *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **QUIET_ENV, **GIT_IDENTITY, **(env or {})},
        check=False,
    )


def snapshot(project: Path) -> dict[str, tuple[bytes, int]]:
    """Every file outside .git with its bytes and permission bits."""
    return {
        path: ((project / path).read_bytes(), (project / path).stat().st_mode & 0o777)
        for path in project_files(project)
    }


def reported(stdout: str) -> dict[str, list[str]]:
    """The upgrade's summary as {outcome: [paths]}: ``outcome (n): meaning`` then ``  path``."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("  ") and current:
            sections[current].append(line.split("  (")[0].strip())
        elif " (" in line and line.split(" (")[0] in OUTCOMES:
            current = line.split(" (")[0]
            sections[current] = []
        else:
            current = None
    return sections


def record(project: Path) -> dict:
    return json.loads((project / MANIFEST["answers_file"]).read_text())


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_template(tmp_path_factory.mktemp("template") / "churn-template")


def copy_template(repo: Path) -> Path:
    """This checkout's files (committed or not, minus git-ignored ones) as one fresh commit."""
    listed = git(TEMPLATE, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for relative in filter(None, listed.split("\0")):
        if (TEMPLATE / relative).is_file():  # deleted but not yet staged: skip
            (repo / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / relative, repo / relative)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "template")
    return repo


@pytest.fixture
def evolving_template(template_repo: Path, tmp_path: Path) -> Path:
    """A clone of the template repository that a test may commit new versions to."""
    clone = tmp_path / "evolving-template"
    git(tmp_path, "clone", "-q", str(template_repo), str(clone))
    git(clone, "remote", "remove", "origin")  # a local path: nothing to record as the source
    return clone


def bake_committed(template: Path, output: Path, **answers: str) -> Path:
    """A bake with git init, as a user gets it: the first commit is the generated project."""
    return bake_ok(output, template=str(template), **answers)


# --- The scripted edits a project's team makes after generation ----------------------------

USER_MODULE = f"src/{PACKAGE}/core/segments.py"
USER_TEST = "tests/core/test_segments.py"
DELETED = ".pre-commit-config.yaml"
MAKE_TARGET = "smoke: $(INSTALLED) ## Team: core tests\n\t$(PY) -m pytest -q tests/core\n\n"
DEPENDENCY = '    "rich>=13",\n'
HELPER = '\n\ndef team_helper() -> str:\n    """Added by the team."""\n    return "kept"\n'
PROPERTY = (
    "    @property\n    def scores_csv(self) -> Path:\n"
    '        return self.reports_dir / "scores.csv"\n\n'
)


def insert_before(path: Path, anchor: str, text: str) -> None:
    content = path.read_text()
    assert anchor in content, f"{anchor!r} not in {path}"
    path.write_text(content.replace(anchor, text + anchor, 1))


def layer_owned_module(project: Path) -> str:
    """A Python file owned by one of the project's layers (not the base)."""
    layers = record(project)["layers"]
    paths = layer_manifest.owned_paths(MANIFEST, layers)
    rendered = [layer_manifest.render_path(path, record(project)["answers"]) for path in paths]
    return next(path for path in rendered if path.endswith(".py"))


def make_edits(project: Path, owned: str | None = None) -> str:
    """Edit a layer-owned module (``owned``, or the project's first), the Makefile, pyproject and
    settings; add and delete files. Returns the module's path."""
    owned = owned or layer_owned_module(project)
    with (project / owned).open("a") as module:
        module.write(HELPER)
    insert_before(project / "Makefile", "lint: ", MAKE_TARGET)
    insert_before(project / "pyproject.toml", "]\n\n# One group per layer", DEPENDENCY)
    settings = project / f"src/{PACKAGE}/settings.py"
    insert_before(settings, "    @property\n    def model_file", PROPERTY)
    (project / USER_MODULE).write_text(
        '"""Customer segments the team reports on."""\n\n\n'
        "def tenure_band(months: int) -> str:\n"
        '    return "new" if months < 12 else "loyal"\n'
    )
    (project / USER_TEST).write_text(
        f"from {PACKAGE}.core.segments import tenure_band\n"
        f"from {PACKAGE}.settings import Settings\n\n\n"
        "def test_the_team_code_survives_the_upgrade():\n"
        '    assert tenure_band(3) == "new"\n'
        '    assert Settings().scores_csv.name == "scores.csv"\n'
    )
    (project / DELETED).unlink()
    commit_all(project, "The team's edits")
    return owned


def assert_edits_survived(project: Path, owned: str) -> None:
    assert (project / owned).read_text().endswith(HELPER)
    assert MAKE_TARGET + "lint: " in (project / "Makefile").read_text()
    assert DEPENDENCY in (project / "pyproject.toml").read_text()
    assert PROPERTY in (project / f"src/{PACKAGE}/settings.py").read_text()
    assert (project / USER_MODULE).exists()
    assert (project / USER_TEST).exists()
    assert not (project / DELETED).exists()


# --- Stage paths and layer additions ------------------------------------------------------


@pytest.mark.parametrize(("_case", "answers", "args", "target"), UPGRADES, ids=IDS)
def test_unedited_upgrade_equals_a_fresh_bake_and_a_second_run_is_a_no_op(
    tmp_path, template_repo, _case, answers, args, target
):
    project = bake_committed(template_repo, tmp_path / "old", **answers)
    fresh = bake_committed(template_repo, tmp_path / "fresh", **target)

    result = upgrade(project, *args, "--template", str(template_repo))

    assert result.returncode == 0, result.stdout + result.stderr
    assert snapshot(project) == snapshot(fresh)
    commit_all(project, "Upgrade")
    again = upgrade(project, "--template", str(template_repo))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Already up to date" in again.stdout
    assert git(project, "status", "--porcelain") == ""


def test_changing_every_choice_equals_a_fresh_bake_with_those_answers(tmp_path, template_repo):
    project = bake_committed(template_repo, tmp_path / "old", maturity_stage=HIGHEST)
    fresh = bake_committed(
        template_repo, tmp_path / "fresh", maturity_stage=HIGHEST, **OTHER_SYSTEMS
    )
    choices = [f"--set={key}={value}" for key, value in OTHER_SYSTEMS.items()]

    result = upgrade(project, *choices, "--template", str(template_repo))

    assert result.returncode == 0, result.stdout + result.stderr
    assert snapshot(project) == snapshot(fresh)
    assert {key: record(project)["answers"][key] for key in OTHER_SYSTEMS} == OTHER_SYSTEMS
    layers = layer_manifest.enabled_layers(MANIFEST, {"maturity_stage": HIGHEST})
    assert project_files(project) == expected_files(layers, PACKAGE, OTHER_SYSTEMS)


def edited_upgrade(template: Path, folder: Path, answers: dict, args: list) -> tuple[Path, str]:
    """A bake, the team's edits committed, then upgraded; the project and its edited module."""
    project = bake_committed(template, folder, **answers)
    owned = make_edits(project)

    result = upgrade(project, *args, "--template", str(template))

    assert result.returncode == 0, result.stdout + result.stderr
    summary = reported(result.stdout)
    assert summary["skipped"] == [DELETED]
    assert "Makefile" in summary["merged"]
    assert "conflicted" not in summary
    return project, owned


@pytest.mark.parametrize(("_case", "answers", "args", "target"), EDITED_UPGRADES)
def test_edited_upgrade_equals_a_fresh_bake_with_the_same_edits(
    tmp_path, template_repo, _case, answers, args, target
):
    project, owned = edited_upgrade(template_repo, tmp_path / "out", answers, args)
    fresh = bake_committed(template_repo, tmp_path / "fresh", **target)
    make_edits(fresh, owned)

    assert_edits_survived(project, owned)
    layers = layer_manifest.enabled_layers(MANIFEST, {**answers, **target})
    assert record(project)["layers"] == layers
    assert project_files(project) == (
        expected_files(layers, PACKAGE) - {DELETED} | {USER_MODULE, USER_TEST}
    )
    markers = [path for path, (text, _) in snapshot(project).items() if CONFLICT.search(text)]
    assert markers == []
    assert snapshot(project) == snapshot(fresh)
    assert git(project, "status", "--porcelain") != ""  # left as a diff to review


@pytest.mark.integration
@pytest.mark.parametrize(("_case", "answers", "args", "_target"), SUITE_UPGRADES)
def test_an_edited_project_passes_its_tests_after_the_upgrade(
    tmp_path, template_repo, project_python, _case, answers, args, _target
):
    project, _ = edited_upgrade(template_repo, tmp_path / "out", answers, args)

    assert_suite_passed(run_project_tests(project_python, project, "-m", "not slow"))


def test_an_edit_colliding_with_the_template_leaves_markers_and_exits_1(tmp_path, template_repo):
    old, new = BUILT_STAGES[0], BUILT_STAGES[1]
    project = bake_committed(template_repo, tmp_path / "out", maturity_stage=old)
    makefile = project / "Makefile"
    lines = makefile.read_text().splitlines(keepends=True)
    run_line = next(i for i, line in enumerate(lines) if line.startswith("run: "))
    lines[run_line] = "run: $(INSTALLED) ## Our main job, as the team runs it\n"
    makefile.write_text("".join(lines))
    commit_all(project, "Our run target")

    result = upgrade(project, "--stage", new, "--template", str(template_repo), "--branch", "up")

    assert result.returncode == 1, result.stdout + result.stderr
    assert reported(result.stdout)["conflicted"] == ["Makefile"]
    text = makefile.read_text()
    assert "<<<<<<< your project\nrun: $(INSTALLED) ## Our main job, as the team runs it" in text
    assert f">>>>>>> template {MANIFEST['version']}" in text
    assert record(project)["answers"]["maturity_stage"] == new  # the rest is upgraded
    assert git(project, "branch", "--show-current").strip() == "up"


# --- A newer template version at the same stage -------------------------------------------

LOGO = "{{cookiecutter.project_slug}}/docs/logo.png"
FEATURES = "{{cookiecutter.project_slug}}/src/{{cookiecutter.package_name}}/core/features.py"


def test_a_newer_template_version_merges_edits_and_never_merges_binaries(
    tmp_path, evolving_template
):
    (evolving_template / LOGO).parent.mkdir()
    (evolving_template / LOGO).write_bytes(b"\x89PNG\r\n\x1a\n\0version-1")
    first = commit_all(evolving_template, "Add a logo")
    project = bake_committed(evolving_template, tmp_path / "out", maturity_stage=HIGHEST)
    features = project / f"src/{PACKAGE}/core/features.py"
    features.write_text(features.read_text().replace('"""', '"""Team: reviewed.\n', 1))
    (project / "docs/logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0our-own-logo")
    (project / ".env.example").write_text("# the team's settings\n")
    commit_all(project, "The team's edits")
    template_features = evolving_template / FEATURES
    template_features.write_text(template_features.read_text() + "\n# Template v2: a change.\n")
    (evolving_template / LOGO).write_bytes(b"\x89PNG\r\n\x1a\n\0version-2")
    (evolving_template / "{{cookiecutter.project_slug}}/NOTICE.md").write_text("v2 notice\n")
    (evolving_template / "{{cookiecutter.project_slug}}/.env.example").unlink()
    (evolving_template / "{{cookiecutter.project_slug}}" / DELETED).unlink()
    manifest = json.loads((evolving_template / "layers.json").read_text())
    manifest["version"] = "99.0.0"
    (evolving_template / "layers.json").write_text(json.dumps(manifest, indent=2) + "\n")
    second = commit_all(evolving_template, "Template v2")

    result = upgrade(project, "--template", str(evolving_template))

    assert result.returncode == 1, result.stdout + result.stderr  # the binary needs a decision
    merged = features.read_text()
    assert merged.startswith('"""Team: reviewed.\n')
    assert merged.endswith("# Template v2: a change.\n")
    assert (project / "docs/logo.png").read_bytes().endswith(b"our-own-logo")
    assert (project / "docs/logo.png.new").read_bytes().endswith(b"version-2")
    assert (project / "NOTICE.md").read_text() == "v2 notice\n"
    assert (project / ".env.example").read_text() == "# the team's settings\n"  # edited: kept
    assert not (project / DELETED).exists()  # unedited and dropped: removed
    assert reported(result.stdout) == {
        "merged": [f"src/{PACKAGE}/core/features.py"],
        "added": ["NOTICE.md"],
        "kept": [".env.example"],
        "removed": [DELETED],
        "conflicted": ["docs/logo.png"],
    }
    assert record(project)["template"] == {
        "checkout": None,
        "commit": second,
        "source": None,
        "version": "99.0.0",
    }
    assert first != second


def test_a_remote_gh_source_is_recorded_and_upgraded_from(tmp_path, template_repo):
    remotes = tmp_path / "remotes"
    bare = remotes / "acme" / "churn-template.git"
    git(tmp_path, "clone", "-q", "--bare", str(template_repo), str(bare))
    config = tmp_path / "gitconfig"  # github.com resolves to the local bare repository
    config.write_text(f'[url "file://{remotes}/"]\n\tinsteadOf = https://github.com/\n')
    env = {"GIT_CONFIG_GLOBAL": str(config)}
    project = bake_ok(tmp_path / "out", template="gh:acme/churn-template", env=env)
    assert record(project)["template"]["source"] == "gh:acme/churn-template"
    work = tmp_path / "template-work"
    git(tmp_path, "clone", "-q", str(bare), str(work), env=env)
    readme = work / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text() + "\nA note from template v2.\n")
    newer = commit_all(work, "Template v2", env=env)
    git(work, "tag", "v2", env=env)
    git(work, "push", "-q", "origin", "main", "v2", env=env)

    result = upgrade(project, "--ref", "v2", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Fetching the template from gh:acme/churn-template" in result.stdout
    assert (project / "README.md").read_text().endswith("A note from template v2.\n")
    assert record(project)["template"]["source"] == "gh:acme/churn-template"
    assert record(project)["template"]["commit"] == newer
    assert record(project)["template"]["checkout"] == "v2"


# --- Refusals -----------------------------------------------------------------------------


def test_a_dirty_tree_is_refused_and_nothing_changes(tmp_path, template_repo):
    project = bake_committed(template_repo, tmp_path / "out")
    (project / "README.md").write_text("work in progress\n")
    (project / "scratch.txt").write_text("untracked\n")
    before = snapshot(project)

    result = upgrade(project, "--stage", HIGHEST, "--template", str(template_repo))

    assert result.returncode == 2
    assert "uncommitted changes (README.md, scratch.txt)" in result.stderr
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layers", "servng"], "LAYERS: unknown layer 'servng'"),
        (["--stage", "9"], "STAGE=9 is not a maturity stage"),
        (["--layers=-tracking", "--stage", "2"], "needs layer(s) tracking"),
        ([], "records no template source"),
        (["--set", "orchestrator=argo"], "SET: orchestrator='argo' is not an answer"),
        (["--set", "runtime=kserve"], "SET: 'runtime=kserve' is not a choice=answer"),
    ],
    ids=[
        "unknown-layer",
        "unknown-stage",
        "unworkable-layers",
        "no-source",
        "unknown-answer",
        "unknown-choice",
    ],
)
def test_unusable_requests_are_refused_with_one_line(tmp_path, template_repo, args, message):
    project = bake_committed(template_repo, tmp_path / "out")
    template = ["--template", str(template_repo)] if args else []

    result = upgrade(project, *args, *template)

    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert git(project, "status", "--porcelain") == ""


def test_a_project_outside_git_is_refused(tmp_path, template_repo):
    project = bake_ok(tmp_path / "out", template=str(template_repo), git_init="no")

    result = upgrade(project, "--template", str(template_repo))

    assert result.returncode == 2
    assert "is not in a git repository" in result.stderr


def test_a_dry_run_reports_and_writes_nothing(tmp_path, template_repo):
    project = bake_committed(template_repo, tmp_path / "out")

    result = upgrade(project, "--stage", HIGHEST, "--template", str(template_repo), "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "Dry run: nothing was written." in result.stdout
    assert git(project, "status", "--porcelain") == ""


def test_make_upgrade_passes_every_variable_on(default_project):
    result = subprocess.run(
        ["make", "-n", "upgrade", "STAGE=2", "LAYERS=-notebook",
         "SET=orchestrator=kubeflow ci_system=both", "TEMPLATE=gh:acme/t", "REF=v2",
         "BASE_REF=abc", "BRANCH=up", "DRY_RUN=1"],
        cwd=default_project, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert (
        "tools/upgrade.py --stage=2 --layers=-notebook --set=orchestrator=kubeflow "
        "--set=ci_system=both --template=gh:acme/t --ref=v2 "
        "--base-ref=abc --branch=up --dry-run"
    ) in " ".join(result.stdout.replace("\\\n", " ").split())  # make -n keeps the line breaks


def test_a_project_made_before_the_command_existed_gets_it_by_running_the_templates_copy(
    tmp_path, evolving_template
):
    tools = evolving_template / "{{cookiecutter.project_slug}}" / "tools"
    kept = tmp_path / "tools"
    shutil.move(tools, kept)
    commit_all(evolving_template, "A template version without the upgrade command")
    project = bake_committed(evolving_template, tmp_path / "out")
    shutil.move(kept, tools)
    commit_all(evolving_template, "The upgrade command")
    assert not (project / "tools").exists()

    result = subprocess.run(
        [sys.executable, str(tools / "upgrade.py"), "--template", str(evolving_template)],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert set(reported(result.stdout)["added"]) >= {"tools/upgrade.py", "tools/upgrade_files.py"}
    assert (project / "tools" / "upgrade.py").read_bytes() == (tools / "upgrade.py").read_bytes()
