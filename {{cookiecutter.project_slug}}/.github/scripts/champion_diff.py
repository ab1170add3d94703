"""The metrics of the version this run registered against those of @champion, as Markdown.

The training workflow appends the output to the job summary, after `make run`:
    .venv/bin/python .github/scripts/champion_diff.py >> "$GITHUB_STEP_SUMMARY"
It reads reports/registered.json (the register stage writes it) and the registry the settings
name (a tracking server, or the embedded store). It fails only when one of them cannot be read.
"""

import json
import sys

from {{ cookiecutter.package_name }}.io import tracking
from {{ cookiecutter.package_name }}.settings import Settings

#: One metric per feature is too much for a summary: reports/metrics.json has them.
SKIPPED_PREFIXES = ("feature_importance.",)


def number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def table(new: dict[str, float], champion: dict[str, float] | None = None) -> list[str]:
    """One row per metric; without a champion, only the new version's column."""
    if champion is None:
        rows = ["| metric | new |", "| --- | ---: |"]
        return rows + [f"| {name} | {number(new[name])} |" for name in sorted(new)]
    rows = ["| metric | champion | new | delta |", "| --- | ---: | ---: | ---: |"]
    for name in sorted(champion.keys() | new.keys()):
        old, now = champion.get(name), new.get(name)
        delta = "" if old is None or now is None else f"{now - old:+.4g}"
        rows.append(f"| {name} | {number(old)} | {number(now)} | {delta} |")
    return rows


def metrics(settings: Settings, run_id: str) -> dict[str, float]:
    found = tracking.run_data(settings, run_id)[1]
    return {name: value for name, value in found.items() if not name.startswith(SKIPPED_PREFIXES)}


def report(settings: Settings) -> list[str]:
    entry = json.loads(settings.registered_json.read_text(encoding="utf-8"))
    name, version = entry["name"], str(entry["version"])
    new = metrics(settings, entry["run_id"])
    try:
        champion = tracking.describe(settings, tracking.CHAMPION)
    except tracking.TrackingError:
        return [f"### {name} version {version}: no @champion to compare with", "", *table(new)]
    if champion.version == version:
        heading = f"### {name} version {version} is @champion (nothing to compare with)"
        return [heading, "", *table(new)]
    old = metrics(settings, champion.run_id)
    alias = f" (@{entry['alias']})" if entry.get("alias") else ""
    heading = f"### {name} version {version}{alias} against @champion (version {champion.version})"
    return [heading, "", *table(new, old)]


def main() -> int:
    settings = Settings()
    if not settings.registered_json.is_file():
        print(f"{settings.registered_json} not found: run `make run` first", file=sys.stderr)
        return 1
    print("\n".join(report(settings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
