"""What every benchmark shares: running a set-up command, Markdown tables, target verdicts.

Not a benchmark itself: `make bench` skips modules whose name starts with an underscore.
"""

import subprocess
import sys
from pathlib import Path


def shown(command: list) -> str:
    """A command for a message, with an inline ``-c`` script left out."""
    parts = [str(part) for part in command]
    return " ".join("<script>" if i and parts[i - 1] == "-c" else p for i, p in enumerate(parts))


def check_output(command: list, cwd: Path, env: dict) -> str:
    """The command's stdout; exits the benchmark with its output when it fails."""
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"{shown(command)} failed:\n{done.stdout[-2000:]}\n"
                 f"{done.stderr[-3000:]}")  # fmt: skip
    return done.stdout


def table(header: list[str], align: str, rows: list[list[str]]) -> None:
    """A Markdown table; ``align`` has one letter per column: l(eft) or r(ight)."""
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("--:" if a == "r" else "---" for a in align) + "|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"
