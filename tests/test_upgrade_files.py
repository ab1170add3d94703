"""The upgrade's per-file rule (tools/upgrade_files.py), one row per case, with real git."""

import sys
from pathlib import Path

import pytest

from conftest import PROJECT_TEMPLATE

sys.path.insert(0, str(PROJECT_TEMPLATE / "tools"))

import upgrade_files

LABELS = ("your project", "template base", "template target")
LINES = b"1\n2\n3\n4\n5\n"
#: (id, template base, template target, your copy, outcome, what lands at the path)
CASES = [
    ("new-file", None, b"a\n", None, "added", b"a\n"),
    ("you-deleted-it", b"a\n", b"b\n", None, "skipped", None),
    ("unedited-changed", b"a\n", b"b\n", b"a\n", "updated", b"b\n"),
    ("edited-unchanged", b"a\n", b"a\n", b"x\n", "kept", b"x\n"),
    (
        "edited-changed-elsewhere",
        LINES,
        LINES.replace(b"5", b"five"),
        LINES.replace(b"1", b"one"),
        "merged",
        b"one\n2\n3\n4\nfive\n",
    ),
    ("unedited-dropped", b"a\n", None, b"a\n", "removed", None),
    ("edited-dropped", b"a\n", None, b"x\n", "kept", b"x\n"),
    ("already-the-target", b"a\n", b"b\n", b"b\n", None, b"b\n"),
    ("deleted-and-dropped", b"a\n", None, None, None, None),
]


def lay_out(tmp_path: Path, base, target, mine) -> tuple[Path, Path, Path]:
    folders = [tmp_path / name for name in ("base", "target", "project")]
    for folder, content in zip(folders, (base, target, mine), strict=True):
        folder.mkdir()
        if content is not None:
            (folder / "file.txt").write_bytes(content)
    return folders[0], folders[1], folders[2]


def settle_and_apply(tmp_path: Path, base, target, mine):
    base_dir, target_dir, project = lay_out(tmp_path, base, target, mine)
    change = upgrade_files.settle("file.txt", base_dir, target_dir, project, LABELS, tmp_path)
    upgrade_files.apply(project, [change] if change else [])
    return change, project


@pytest.mark.parametrize(
    ("_case", "base", "target", "mine", "outcome", "result"), CASES, ids=[c[0] for c in CASES]
)
def test_each_case_settles_as_the_table_says(tmp_path, _case, base, target, mine, outcome, result):
    change, project = settle_and_apply(tmp_path, base, target, mine)

    assert (change.outcome if change else None) == outcome
    landed = project / "file.txt"
    assert (landed.read_bytes() if landed.exists() else None) == result


def test_a_collision_leaves_labelled_markers(tmp_path):
    change, project = settle_and_apply(tmp_path, b"a\n", b"theirs\n", b"ours\n")

    assert change.outcome == "conflicted"
    assert (project / "file.txt").read_bytes() == (
        b"<<<<<<< your project\nours\n=======\ntheirs\n>>>>>>> template target\n"
    )


def test_your_own_file_where_the_template_adds_one_is_merged_against_nothing(tmp_path):
    change, project = settle_and_apply(tmp_path, None, b"template\n", b"yours\n")

    assert change.outcome == "conflicted"
    assert change.note == "you had your own file at this path"
    assert b"yours\n=======\ntemplate\n" in (project / "file.txt").read_bytes()


def test_a_binary_is_never_merged_its_new_copy_lands_beside_it(tmp_path):
    change, project = settle_and_apply(tmp_path, b"\0base", b"\0target", b"\0yours")

    assert change.outcome == "conflicted"
    assert (project / "file.txt").read_bytes() == b"\0yours"
    assert (project / "file.txt.new").read_bytes() == b"\0target"


def test_removing_the_last_file_of_a_folder_removes_the_folder(tmp_path):
    project = tmp_path / "project"
    (project / "dags" / "sub").mkdir(parents=True)
    (project / "dags" / "sub" / "retraining.py").write_text("x")

    upgrade_files.apply(project, [upgrade_files.Change("dags/sub/retraining.py", "removed")])

    assert list(project.iterdir()) == []


def test_a_taken_file_keeps_the_target_permissions(tmp_path):
    base_dir, target_dir, project = lay_out(tmp_path, None, b"#!/bin/sh\n", None)
    (target_dir / "file.txt").chmod(0o755)

    change = upgrade_files.settle("file.txt", base_dir, target_dir, project, LABELS, tmp_path)
    upgrade_files.apply(project, [change])

    assert (project / "file.txt").stat().st_mode & 0o777 == 0o755
