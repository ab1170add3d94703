"""The files' side of an upgrade: settle each file three ways, then write the result."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from upgrade_template import UpgradeError, executable

ANSWERS_FILE = ".template.json"  # written by the upgrade itself, never merged
BINARY_COPY_SUFFIX = ".new"
#: Outcomes in the order the summary lists them, with what each means.
OUTCOMES = {
    "added": "new from the template",
    "updated": "you had not edited it: now the template's new version",
    "merged": "your edits and the template's changes, merged",
    "conflicted": "your edits collide with the template's: resolve, then commit",
    "kept": "your copy, as it is",
    "removed": "dropped by the template; you had not edited it",
    "skipped": "you deleted it: it stays deleted",
}
#: Outcomes that change the project.
WRITES = ("added", "updated", "merged", "conflicted", "removed")


@dataclass
class Change:
    """What the upgrade does to one file of the project."""

    path: str
    outcome: str
    content: bytes | None = None  # what to write, if anything
    mode: int | None = None  # permissions of a file taken from the target
    write_to: str | None = None  # where to write, when not ``path`` (a binary's new copy)
    note: str = ""


def plan(project: Path, base: Path, target: Path, labels: tuple, scratch: Path) -> list[Change]:
    """One change per file the template renders, in path order; files it never had are yours."""
    paths = sorted((rendered_files(base) | rendered_files(target)) - {ANSWERS_FILE})
    changes = [settle(path, base, target, project, labels, scratch) for path in paths]
    return [change for change in changes if change is not None]


def rendered_files(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def settle(
    path: str, base: Path, target: Path, project: Path, labels: tuple, scratch: Path
) -> Change | None:
    """Your copy against the template's base and target versions (None: nothing to do)."""
    old, new, mine = read(base / path), read(target / path), read(project / path)
    if mine is None and (project / path).exists():
        return Change(path, "conflicted", note="not a file in your project: move it aside")
    if mine == new:
        return None
    if new is None:
        if mine == old:
            return Change(path, "removed")
        return Change(path, "kept", note="the template dropped it; you had edited it")
    mode = (target / path).stat().st_mode & 0o777
    if mine is None:
        return Change(path, "added", new, mode) if old is None else Change(path, "skipped")
    if mine == old:
        return Change(path, "updated", new, mode)
    if old == new:
        return Change(path, "kept")
    if any(is_binary(content) for content in (old, new, mine)):
        copy = path + BINARY_COPY_SUFFIX
        return Change(path, "conflicted", new, mode, copy, f"binary: compare with {copy}")
    merged, clean = merge(mine, old or b"", new, labels, scratch)
    note = "" if old is not None else "you had your own file at this path"
    return Change(path, "merged" if clean else "conflicted", merged, note=note)


def read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def is_binary(content: bytes | None) -> bool:
    """git's test: a NUL byte in the first 8000 bytes."""
    return content is not None and b"\0" in content[:8000]


def merge(mine: bytes, old: bytes, new: bytes, labels: tuple, scratch: Path) -> tuple[bytes, bool]:
    """``git merge-file``: the template's changes applied to your copy; False on a conflict."""
    files = []
    for name, content in zip(("mine", "base", "target"), (mine, old, new), strict=True):
        files.append(scratch / f"merge-{name}")
        files[-1].write_bytes(content)
    names = [arg for label in labels for arg in ("-L", label)]
    # S603 waived: git by its absolute path, on files of ours, with no shell.
    result = subprocess.run(  # noqa: S603
        [executable("git"), "merge-file", "-p", *names, *map(str, files)],
        capture_output=True,
        check=False,
    )
    if not 0 <= result.returncode <= 127:  # negative: an error; otherwise the conflict count
        error = result.stderr.decode(errors="replace").strip()
        raise UpgradeError(f"git merge-file failed: {error}")
    return result.stdout, result.returncode == 0


def apply(project: Path, changes: list[Change]) -> None:
    for change in changes:
        target = project / (change.write_to or change.path)
        if change.outcome == "removed":
            target.unlink()
            remove_empty_parents(target.parent, project)
        elif change.content is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(change.content)
            if change.mode is not None:
                target.chmod(change.mode)


def remove_empty_parents(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
