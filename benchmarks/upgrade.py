"""How long an upgrade takes on each path, against a fresh bake of the same target.

    make bench     (all benchmarks; this one: .venv/bin/python benchmarks/upgrade.py [repeats])

A fresh bake is the peer: an upgrade renders the template twice and settles every file, so
about twice a bake plus the merges is what it should cost. Prints medians and the ratio.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_upgrade import UPGRADES, bake_committed, copy_template, make_edits, upgrade


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def measure(folder: Path, template: Path, answers: dict, args: list, target: dict, edit: bool):
    """Seconds for one fresh bake at the target and one upgrade to it."""
    bake_seconds, _ = timed(lambda: bake_committed(template, folder / "fresh", **target))
    project = bake_committed(template, folder / "old", **answers)
    if edit:
        make_edits(project)
    upgrade_seconds, result = timed(lambda: upgrade(project, *args, "--template", str(template)))
    if result.returncode != 0:
        sys.exit(f"upgrade failed:\n{result.stdout}\n{result.stderr}")
    return bake_seconds, upgrade_seconds


def main(repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-upgrade-") as scratch:
        template = copy_template(Path(scratch) / "template")
        print(f"{'path':<28} {'edits':<6} {'bake s':>7} {'upgrade s':>10} {'ratio':>6}")
        for case, answers, args, target in UPGRADES:
            for edit in (False, True):
                runs = [
                    measure(Path(scratch) / f"{case}-{edit}-{i}", template, answers, args,
                            target, edit)
                    for i in range(repeats)
                ]  # fmt: skip
                bake = statistics.median(run[0] for run in runs)
                up = statistics.median(run[1] for run in runs)
                print(f"{case:<28} {'yes' if edit else 'no':<6} {bake:>7.2f} {up:>10.2f} "
                      f"{up / bake:>6.2f}")  # fmt: skip
        print(f"medians of {repeats} runs; bake = a fresh bake at the target (the peer)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
