"""The promotion job: judge @challenger against @champion on one labelled holdout, then act.

Steps: load both versions from the registry; score both on the same holdout (default: the test
split in the settings, the recent labelled data of this run); compute the same metrics for
both; let the gate decide (core/gate.py); record the decision on the challenger version (tags
``gate.*``), in ``reports/promotion.json`` and as an MLflow run. On promotion the alias
``champion`` moves to the challenger (the replaced version keeps ``previous-champion``); on
rejection the champion stays and the challenger carries the reason.
{%- if cookiecutter|layer_enabled("serving") %} After a promotion the
prediction server at ``serve_url`` is told to reload ``champion``.
{%- endif %}

Exit codes of the `promote` command: 0 the gate decided (promoted or rejected), or there was
nothing to decide (no challenger: the last one was promoted, or the first version is the
champion); 2 bad input (no champion, a holdout that is missing, unlabelled or too small).
{%- if cookiecutter|layer_enabled("serving") %}
4: promoted, but the server did not confirm the reload: the new champion is in the registry
and the server serves the old one until it is reloaded (POST /admin/reload, or a restart).
{%- endif %}
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from ..configs import PipelineConfig
from ..core import schema
from ..core.features import churn_labels
from ..core.gate import Decision, decide, holdout_metrics
from ..io import tracking
{%- if cookiecutter|layer_enabled("governance") %}
from ..io.audit_log import open_audit_log
{%- endif %}
from ..io.datasets import iter_customers, write_json
{%- if cookiecutter|layer_enabled("serving") %}
from ..io.model_server import ReloadError
from ..io.model_server import reload as reload_server
{%- endif %}
from ..settings import Settings
from .register import file_md5

EXIT_OK, EXIT_BAD_INPUT, EXIT_RELOAD_FAILED = 0, 2, 4
CHUNK_ROWS = 200_000


class HoldoutError(ValueError):
    """The holdout cannot judge the models: missing, unlabelled, one class only, or too small."""


@dataclass(frozen=True)
class Holdout:
    """One labelled table, scored by every model being compared."""

    path: Path
    md5: str
    labels: np.ndarray
    scores: dict[str, np.ndarray]

    def describe(self) -> dict:
        return {
            "path": str(self.path),
            "rows": len(self.labels),
            "md5": self.md5,
            "churn_rate": round(float(self.labels.mean()), 6),
        }


@dataclass(frozen=True)
class PromotionResult:
    #: None when there was nothing to decide (no challenger).
    decision: Decision | None
    #: What promotion.json and the audit log hold (empty when nothing was decided).
    record: dict
    report: Path | None
    #: One line about the prediction server ("" when it was not asked).
    server: str = ""
    reload_failed: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_RELOAD_FAILED if self.reload_failed else EXIT_OK

    def lines(self) -> list[str]:
        """A few lines for people: the verdict, every check, where the record is."""
        record, decision = self.record, self.decision
        if decision is None:
            lines = [f"gate        nothing to decide: {record['note']}"]
        else:
            lines = [_verdict(record), *(f"            {reason}" for reason in decision.reasons)]
            lines.append(f"report      {self.report} (MLflow run {record['mlflow_run_id']})")
        return lines + ([f"server      {self.server}"] if self.server else [])


def run(
    settings: Settings,
    config: PipelineConfig,
    holdout: Path | None = None,
    actor: str = "cli",
    trigger: str = "manual",
    reload: bool = True,
) -> PromotionResult:
    """Judge the challenger on ``holdout`` (default: settings.test_table) and act on it."""
    champion_version = tracking.alias_version(settings, tracking.CHAMPION)
    if champion_version is None:
        raise tracking.TrackingError(
            f"no version of {settings.registered_model_name!r} is @{tracking.CHAMPION}: "
            "train and register one first (make run)"
        )
    challenger_version = tracking.alias_version(settings, tracking.CHALLENGER)
    if challenger_version in (None, champion_version):
        return _nothing_to_decide(settings, config, champion_version, reload)
    champion_model, champion = tracking.load_version(settings, version=champion_version)
    challenger_model, challenger = tracking.load_version(settings, version=challenger_version)
    scored = score_holdout(
        holdout or settings.test_table,
        {"champion": champion_model, "challenger": challenger_model},
        config.continuous_training.min_holdout_rows,
    )
    gate = config.continuous_training
    metrics = {
        role: holdout_metrics(scored.labels, scores, config.evaluation, gate.calibration_bins)
        for role, scores in scored.scores.items()
    }
    decision = decide(metrics["champion"], metrics["challenger"], gate)
    record = _record(decision, champion, challenger, scored, metrics, actor, trigger)
    report = _apply(settings, decision, record)
    server, failed = _tell_server(settings, config, reload) if decision.promote else ("", False)
    return PromotionResult(decision, record, report, server, failed)


def score_holdout(path: Path, models: dict[str, Pipeline], min_rows: int) -> Holdout:
    """Labels of the holdout and every model's churn scores, read in chunks."""
    if not path.is_file():
        raise HoldoutError(f"holdout {path} not found: give a prepared, labelled table")
    labels: list[np.ndarray] = []
    scores: dict[str, list[np.ndarray]] = {role: [] for role in models}
    for chunk in iter_customers(path, CHUNK_ROWS):
        if schema.TARGET not in chunk.columns:
            raise HoldoutError(
                f"holdout {path} has no {schema.TARGET} column: the gate needs labels"
            )
        labels.append(churn_labels(chunk).to_numpy())
        features = chunk[list(schema.INPUT_COLUMNS)]
        for role, model in models.items():
            scores[role].append(model.predict_proba(features)[:, 1])
    all_labels = np.concatenate(labels) if labels else np.empty(0, dtype="int64")
    _check_holdout(path, all_labels, min_rows)
    return Holdout(
        path=path,
        md5=file_md5(path),
        labels=all_labels,
        scores={role: np.concatenate(parts) for role, parts in scores.items()},
    )


def _check_holdout(path: Path, labels: np.ndarray, min_rows: int) -> None:
    if len(labels) < min_rows:
        raise HoldoutError(
            f"holdout {path} has {len(labels):,} rows, fewer than "
            f"continuous_training.min_holdout_rows={min_rows:,}: too few to judge"
        )
    if labels.min() == labels.max():
        raise HoldoutError(f"holdout {path}: every row has the same label, nothing to rank")


def _record(
    decision: Decision,
    champion: tracking.RegisteredModel,
    challenger: tracking.RegisteredModel,
    holdout: Holdout,
    metrics: dict[str, dict[str, float]],
    actor: str,
    trigger: str,
) -> dict:
    """The decision as promotion.json, the MLflow run and the audit log keep it."""
    return {
        **decision.to_dict(),
        "actor": actor,
        "trigger": trigger,
        "model_name": champion.name,
        "champion_version": champion.version,
        "challenger_version": challenger.version,
        "champion_metrics": metrics["champion"],
        "challenger_metrics": metrics["challenger"],
        "holdout": holdout.describe(),
        "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _apply(settings: Settings, decision: Decision, record: dict) -> Path:
    """Registry first (tags, then the alias), then the report, the MLflow run, the audit log."""
    challenger, champion = record["challenger_version"], record["champion_version"]
    tracking.tag_version(settings, challenger, _decision_tags(record, decision))
    if decision.promote:
        tracking.tag_version(settings, champion, {"gate.replaced_by": challenger})
        tracking.move_champion(settings, challenger)
    report = settings.reports_dir / "promotion.json"
    write_json(record, report)
    record["mlflow_run_id"] = tracking.log_promotion(
        settings, _run_metrics(record), _run_tags(record), [report]
    )
    write_json(record, report)  # again, with the run's id
{%- if cookiecutter|layer_enabled("governance") %}
    open_audit_log(settings).append("promotion", [record])
{%- endif %}
    return report


def _decision_tags(record: dict, decision: Decision) -> dict[str, str]:
    return {
        "gate.decision": record["decision"],
        "gate.reason": decision.summary,
        "gate.reasons": "\n".join(decision.reasons),
        "gate.metric": decision.metric,
        "gate.champion_version": record["champion_version"],
        "gate.champion_value": f"{decision.champion_value:.6f}",
        "gate.challenger_value": f"{decision.challenger_value:.6f}",
        "gate.holdout_md5": record["holdout"]["md5"],
        "gate.actor": record["actor"],
        "gate.trigger": record["trigger"],
        "gate.decided_at": record["decided_at"],
    }


def _run_metrics(record: dict) -> dict[str, float]:
    metrics = {"promoted": float(record["promote"]), "holdout_rows": record["holdout"]["rows"]}
    for role in ("champion", "challenger"):
        metrics |= {f"{role}.{name}": value for name, value in record[f"{role}_metrics"].items()}
    return metrics


def _run_tags(record: dict) -> dict[str, str]:
    keys = ("decision", "actor", "trigger", "champion_version", "challenger_version", "metric")
    return {f"gate.{key}": str(record[key]) for key in keys}


def _verdict(record: dict) -> str:
    name, new, old = record["model_name"], record["challenger_version"], record["champion_version"]
    holdout = record["holdout"]
    where = f"holdout {holdout['path']}, {holdout['rows']:,} rows"
    if record["promote"]:
        return f"gate        PROMOTED {name} version {new} over version {old} ({where})"
    return f"gate        REJECTED {name} version {new}; version {old} stays champion ({where})"


def _nothing_to_decide(
    settings: Settings, config: PipelineConfig, champion: str, reload: bool
) -> PromotionResult:
    """No challenger: the last one was promoted already (a retried task) or the only version
    is the champion. The server is still told to serve the champion, which a retry after a
    failed reload needs and which changes nothing otherwise."""
    note = (
        f"no version of {settings.registered_model_name!r} is @{tracking.CHALLENGER} "
        f"(version {champion} is @{tracking.CHAMPION}); register a challenger first"
    )
    server, failed = _tell_server(settings, config, reload)
    return PromotionResult(None, {"note": note}, None, server, failed)
{%- if cookiecutter|layer_enabled("serving") %}


def _tell_server(settings: Settings, config: PipelineConfig, reload: bool) -> tuple[str, bool]:
    """Ask the server to load @champion: a line for people, and whether that failed.

    A failure is reported and the promotion stays (the registry is the source of truth).
    """
    unchanged = "a running server keeps its model until reloaded"
    if not reload:
        return f"not told (--no-reload): {unchanged}", False
    if settings.serve_url is None:
        return f"not told (serve_url is unset): {unchanged}", False
    token = settings.serve_admin_token.get_secret_value() if settings.serve_admin_token else None
    timeout = config.continuous_training.reload_timeout_seconds
    try:
        answer = reload_server(settings.serve_url, token, tracking.CHAMPION, timeout)
    except ReloadError as error:
        return (
            f"RELOAD FAILED ({error}); the registry's champion changed but the server still "
            f"serves the old model: reload it (POST {settings.serve_url}/admin/reload) or restart",
            True,
        )
    return f"{settings.serve_url} reloaded: now serving version {answer.get('version')}", False
{%- else %}


def _tell_server(settings: Settings, config: PipelineConfig, reload: bool) -> tuple[str, bool]:
    """This project has no prediction server to tell."""
    return "", False
{%- endif %}
