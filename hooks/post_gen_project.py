"""Shape the freshly rendered project: prune unchosen layers, record the answers, git init.

Standard library only. Runs inside the new project folder.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# The answers arrive as one JSON document: no answer is ever pasted into a string literal.
CONTEXT = json.loads({{ cookiecutter | jsonify | tojson }})
TEMPLATE_DIR = Path({{ template_dir | tojson }})  # absolute, from layer_manifest.LayerExtension
{% raw %}
sys.path.insert(0, str(TEMPLATE_DIR))
import layer_manifest as manifest  # noqa: E402  (top of the template checkout)

REMOTE_PREFIXES = ("gh:", "gl:", "bb:", "git+", "git@", "https://", "http://", "ssh://")


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def template_identity(layers_manifest: dict) -> dict:
    """Where the template came from, without machine paths: a remote URL or nothing."""
    source = CONTEXT.get("_template", "")
    if not source.startswith(REMOTE_PREFIXES):
        origin = git("config", "--get", "remote.origin.url", cwd=TEMPLATE_DIR).stdout.strip()
        source = origin if origin.startswith(REMOTE_PREFIXES) else None
    head = git("rev-parse", "--verify", "-q", "HEAD", cwd=TEMPLATE_DIR)
    commit = head.stdout.strip() if head.returncode == 0 else None
    return {
        "source": source,
        "checkout": CONTEXT.get("_checkout"),
        "commit": commit,
        "version": layers_manifest["version"],
    }


def record_answers(layers_manifest: dict, layers: list[str]) -> None:
    """Write the one template-owned file the upgrade command reads back."""
    answers = {key: value for key, value in CONTEXT.items() if not key.startswith("_")}
    record = {
        "template": template_identity(layers_manifest),
        "answers": answers,
        "layers": layers,
    }
    path = Path(layers_manifest["answers_file"])
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def part_of_another_repo() -> bool:
    """Inside another repository's work tree, in a folder it tracks (a monorepo's subfolder).
    A folder it ignores is no part of it: DVC refuses a git-ignored dvc.yaml, say."""
    here = Path.cwd()
    if git("rev-parse", "--is-inside-work-tree", cwd=here).returncode != 0:
        return False
    return git("check-ignore", "-q", ".", cwd=here).returncode != 0


def git_init(stage_name: str) -> None:
    """First commit, so the owner's edits (and later upgrades) show up as diffs."""
    if shutil.which("git") is None:
        print("note: git not found; skipped git init", file=sys.stderr)
        return
    if part_of_another_repo():
        print("note: already inside a git repository; skipped git init", file=sys.stderr)
        return
    env = dict(os.environ)
    if git("config", "user.email", cwd=Path.cwd()).returncode != 0:
        env.setdefault("GIT_AUTHOR_NAME", CONTEXT["author_name"])
        env.setdefault("GIT_AUTHOR_EMAIL", CONTEXT["author_email"])
        env.setdefault("GIT_COMMITTER_NAME", CONTEXT["author_name"])
        env.setdefault("GIT_COMMITTER_EMAIL", CONTEXT["author_email"])
    message = f"Generate {CONTEXT['project_slug']} at maturity stage {stage_name}"
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", message]):
        subprocess.run(["git", *args], env=env, check=True)


def main() -> int:
    layers_manifest = manifest.load(TEMPLATE_DIR)
    layers = manifest.enabled_layers(layers_manifest, CONTEXT)
    manifest.prune(Path.cwd(), layers_manifest, keep=layers, answers=CONTEXT)
    record_answers(layers_manifest, layers)
    stage = str(CONTEXT["maturity_stage"])
    stage_name = f"{stage} ({layers_manifest['stages'][stage]['name']})"
    if CONTEXT["git_init"]:
        git_init(stage_name)
    print(
        f"Created {CONTEXT['project_slug']} at maturity stage {stage_name}; "
        f"layers: {', '.join(layers) or 'base only'}. Next: cd {CONTEXT['project_slug']} && make run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
{% endraw %}
