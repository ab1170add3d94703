"""What the doctor asks the machine: installed distributions, GPUs, git, writable folders.
Standard library only (see jobs/doctor.py)."""

import importlib.metadata
import os
import shutil
import subprocess
from pathlib import Path

from ..core.lock import canonical


def installed_versions() -> dict[str, str]:
    """Installed distributions by canonical name; the first on sys.path wins, as for imports."""
    versions: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        if name := dist.metadata["Name"]:
            versions.setdefault(canonical(name), dist.version)
    return versions


def nvidia_smi_gpus() -> list[str]:
    """GPU names that ``nvidia-smi -L`` lists; none without the driver's tool."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    try:
        listed = subprocess.run(  # noqa: S603  (the driver's own tool, fixed arguments)
            [tool, "-L"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [
        line.split(":", 1)[1].split("(UUID")[0].strip()
        for line in listed.stdout.splitlines()
        if line.startswith("GPU ") and ":" in line
    ]


def inside_git_repo(folder: Path) -> bool | None:
    """Whether ``folder`` is inside a git work tree; None when git is not installed."""
    git = shutil.which("git")
    if git is None:
        return None
    answer = subprocess.run(  # noqa: S603  (git itself, fixed arguments)
        [git, "rev-parse", "--is-inside-work-tree"], cwd=folder, capture_output=True, check=False
    )
    return answer.returncode == 0


def unwritable(target: Path) -> Path | None:
    """None when ``target`` (a folder, or a file in one) exists and can be written, or can be
    created; else the path on its way that refuses it (not writable, or a file where a folder
    must be)."""
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    in_the_way = existing != target and not existing.is_dir()
    return None if os.access(existing, os.W_OK) and not in_the_way else existing
