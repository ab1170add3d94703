"""Upgrade this project from its cookiecutter template, keeping your edits.

    make upgrade STAGE=3                      # move to another maturity stage
    make upgrade LAYERS=serving               # switch a layer on (LAYERS=-notebook: off)
    make upgrade SET=orchestrator=kubeflow    # another answer to a choice (several: SET="a=x b=y")
    make upgrade TEMPLATE=gh:org/repo REF=v1  # a newer template version, same stage

The template is rendered twice into a temporary folder, with git init and other side effects
off: *base* is what this project was generated as (the template commit and the answers recorded
in .template.json) and *target* is the new template version with the new answers. Each file is
then settled three ways against your copy:

    your copy          template base -> target      result
    ---------          ------------------------     ------
    absent             new file                     added
    absent             you deleted it               skipped: stays deleted
    = base             changed                      updated to the target
    edited             unchanged                    kept as you have it
    edited             changed                      merged with `git merge-file`; a collision
                                                    leaves conflict markers (exit 1)
    edited (binary)    changed                      kept; the target is written beside it (.new)
    = base             dropped                      removed
    edited             dropped                      kept

Files the template never rendered are yours and are not touched. The tree must be clean in git
before and the upgrade leaves its changes uncommitted (or on --branch): review `git diff`,
resolve any conflicts, commit. A second run then changes nothing.

Needs git and cookiecutter (the dev extra). tools/upgrade*.py are copied verbatim, not rendered
by cookiecutter, and an upgrade updates them like any other file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path

from upgrade_files import ANSWERS_FILE, OUTCOMES, WRITES, Change, apply, plan
from upgrade_template import UpgradeError, export, git, locate, new_answers, read_manifest, render

EXIT_CONFLICT, EXIT_REFUSED = 1, 2


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return upgrade(Path.cwd(), args)
    except UpgradeError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make upgrade",
        description="Regenerate this project from its template at another stage, with other "
        "layers or at a newer template version, merging the changes into your edited files.",
        epilog="Make variables: STAGE, LAYERS, SET, TEMPLATE, REF, BASE_REF, BRANCH, DRY_RUN=1.",
    )
    parser.add_argument("--stage", help="maturity stage to move to (default: the recorded one)")
    parser.add_argument(
        "--layers",
        default="",
        help="comma-separated layers to switch on; a leading '-' switches one off",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="CHOICE=ANSWER",
        help="answer a generation-time choice anew, e.g. orchestrator=kubeflow, ci_system=both, "
        "serving_runtime=kserve, governance_export=cyclonedx (repeatable)",
    )
    parser.add_argument(
        "--template",
        help="template source: a local checkout, or a remote such as gh:org/repo "
        "(default: the source recorded in .template.json)",
    )
    parser.add_argument(
        "--ref",
        help="template branch, tag or commit to upgrade to (default: a local checkout's files "
        "as they are, a remote's default branch)",
    )
    parser.add_argument(
        "--base-ref",
        help="template commit this project was generated from, when .template.json lacks it",
    )
    parser.add_argument("--branch", help="create this git branch and leave the changes on it")
    parser.add_argument(
        "--dry-run", action="store_true", help="report what would change, write nothing"
    )
    return parser.parse_args(argv)


def upgrade(project: Path, args: argparse.Namespace) -> int:
    """Render base and target, settle every file against the project, write the result."""
    record = read_record(project)
    require_tools()
    require_clean_tree(project)
    with tempfile.TemporaryDirectory(prefix="template-upgrade-") as folder:
        scratch = Path(folder)
        source = locate(args.template or record["template"].get("source"), scratch)
        base_template, _ = export(source, base_ref(record, args), scratch / "base-template")
        target_template, commit = export(source, args.ref, scratch / "target-template")
        manifest = read_manifest(target_template)
        answers = new_answers(record["answers"], args.stage, args.layers, manifest, args.set)
        base = render(base_template, record["answers"], scratch / "base", scratch)
        target = render(target_template, answers, scratch / "target", scratch)
        identity = {
            "source": source.recorded,
            "checkout": args.ref,
            "commit": commit,
            "version": manifest.get("version"),
        }
        new_record = target_record(target, identity, record["answers"])
        changes = plan(project, base, target, labels(record, new_record), scratch)
    print_header(project, record, new_record)
    print_summary(changes)
    if args.dry_run:
        print("Dry run: nothing was written.")
        return 0
    record_changed = record_text(new_record) != (project / ANSWERS_FILE).read_text("utf-8")
    changed = record_changed or any(change.outcome in WRITES for change in changes)
    if args.branch and changed:
        git(project, "switch", "-c", args.branch)
    apply(project, changes)
    (project / ANSWERS_FILE).write_text(record_text(new_record), encoding="utf-8")
    return conclude(changes, changed)


# --- The project's side ------------------------------------------------------------------


def read_record(project: Path) -> dict:
    path = project / ANSWERS_FILE
    if not path.is_file():
        raise UpgradeError(
            f"no {ANSWERS_FILE} in {project}: run this from the top of a project generated "
            "by the template"
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UpgradeError(
            f"{ANSWERS_FILE} is not valid JSON ({error}): restore it from git"
        ) from None
    if not isinstance(record.get("answers"), dict) or not isinstance(record.get("template"), dict):
        raise UpgradeError(f"{ANSWERS_FILE} lacks its 'answers' or 'template' section")
    return record


def require_tools() -> None:
    if shutil.which("git") is None:
        raise UpgradeError("git is not installed: the upgrade merges with git merge-file")
    if importlib.util.find_spec("cookiecutter") is None:
        raise UpgradeError(
            "cookiecutter is not installed here: run make setup (the dev extra has it)"
        )


def require_clean_tree(project: Path) -> None:
    inside = git(project, "rev-parse", "--is-inside-work-tree", check=False)
    if inside.returncode != 0:
        raise UpgradeError(
            f"{project} is not in a git repository: commit the project first "
            "(git init && git add -A && git commit), so your edits can be told apart"
        )
    dirty = git(project, "status", "--porcelain", "--", ".").stdout.splitlines()
    if dirty:
        listed = ", ".join(line[3:] for line in dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise UpgradeError(
            f"the git tree has uncommitted changes ({listed}): commit or stash them first, "
            "so the upgrade's changes can be reviewed on their own"
        )


def record_text(record: dict) -> str:
    """.template.json as the post-generation hook writes it."""
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def base_ref(record: dict, args: argparse.Namespace) -> str:
    ref = args.base_ref or record["template"].get("commit")
    if not ref:
        raise UpgradeError(
            f"{ANSWERS_FILE} records no template commit: pass BASE_REF= (--base-ref) with "
            "the template commit or tag this project was generated from"
        )
    return ref


def target_record(target: Path, identity: dict, old_answers: dict) -> dict:
    """The target's .template.json, with the template's real identity and the first git_init."""
    record = json.loads((target / ANSWERS_FILE).read_text(encoding="utf-8"))
    record["template"] = identity
    if "git_init" in record["answers"] and "git_init" in old_answers:
        record["answers"]["git_init"] = old_answers["git_init"]
    return record


def labels(old: dict, new: dict) -> tuple[str, str, str]:
    """Names for git merge-file: your side, the template's base and its target."""
    return ("your project", f"template {describe(old)}", f"template {describe(new)}")


def describe(record: dict) -> str:
    template = record["template"]
    commit = (template.get("commit") or "no commit")[:7]
    stage = record["answers"].get("maturity_stage")
    return f"{template.get('version')} ({commit}), stage {stage}"


# --- Reporting ------------------------------------------------------------------------------


def print_header(project: Path, old: dict, new: dict) -> None:
    print(f"Upgrading {project.name}")
    for word, record in (("from", old), ("to", new)):
        layers = ", ".join(record.get("layers") or []) or "base only"
        print(f"  {word:<5} template {describe(record)}: {layers}")


def print_summary(changes: list[Change]) -> None:
    for outcome, meaning in OUTCOMES.items():
        chosen = [change for change in changes if change.outcome == outcome]
        if chosen:
            print(f"{outcome} ({len(chosen)}): {meaning}")
        for change in chosen:
            print(f"  {change.path}" + (f"  ({change.note})" if change.note else ""))
    counts = {outcome: sum(c.outcome == outcome for c in changes) for outcome in OUTCOMES}
    print("Summary: " + ", ".join(f"{count} {outcome}" for outcome, count in counts.items()))


def conclude(changes: list[Change], changed: bool) -> int:
    if any(change.outcome == "conflicted" for change in changes):
        print(
            "Conflicts: edit the files listed as conflicted (remove the <<<<<<< ======= >>>>>>> "
            "markers, or take the .new copy of a binary), then git add and commit."
        )
        return EXIT_CONFLICT
    if not changed:
        print("Already up to date: nothing changed.")
        return 0
    print(
        "Done. Review with git status and git diff; make setup installs any new dependency "
        "group; make test; then commit."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
