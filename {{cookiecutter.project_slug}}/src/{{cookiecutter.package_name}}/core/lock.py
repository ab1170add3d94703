"""The environment against the lock: which required distributions are missing, at another
version than their pin, or not pinned at all. Standard library only (see jobs/doctor.py)."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class LockDiff:
    #: Required distributions compared, by canonical name.
    checked: list[str]
    missing: list[str]
    #: (name, installed, locked)
    mismatched: list[tuple[str, str, str]]
    unpinned: list[str]
    #: Locked distributions not required by name (dependencies of dependencies), installed at
    #: another version than their pin.
    drifted: list[tuple[str, str, str]]

    @property
    def broken(self) -> bool:
        return bool(self.missing or self.mismatched)


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them: Foo_Bar.baz -> foo-bar-baz."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str) -> dict[str, str]:
    """The ``name==version`` lines of a constraints file, by canonical name."""
    locked = {}
    for line in text.splitlines():
        name, _, version = line.split("#")[0].split(";")[0].partition("==")
        if version.strip():
            locked[canonical(name.strip())] = version.strip()
    return locked


def same_version(installed: str, locked: str) -> bool:
    """Equal versions; a local build label (torch 2.5.1+cu124) matches its pin, as for pip."""
    if "+" not in locked:
        installed = installed.split("+")[0]
    return installed.lower() == locked.lower()


def compare_to_lock(
    required: Iterable[str], locked: Mapping[str, str], installed: Mapping[str, str]
) -> LockDiff:
    """Requirement strings (``uvicorn[standard]>=0.30``) against the lock and the installed
    versions (both by canonical name).

    A requirement with an environment marker counts only where it is installed: evaluating
    markers would need a package beyond the standard library.
    """
    checked: list[str] = []
    missing, mismatched, unpinned = [], [], []
    for spec in required:
        match = _NAME.match(spec)
        name = canonical(match[1]) if match else spec.strip()
        if name in checked or (";" in spec and name not in installed):
            continue
        checked.append(name)
        if name not in locked:
            unpinned.append(name)
        elif name not in installed:
            missing.append(name)
        elif not same_version(installed[name], locked[name]):
            mismatched.append((name, installed[name], locked[name]))
    drifted = [
        (name, installed[name], pin)
        for name, pin in locked.items()
        if name not in checked and name in installed and not same_version(installed[name], pin)
    ]
    return LockDiff(checked, missing, mismatched, unpinned, drifted)
