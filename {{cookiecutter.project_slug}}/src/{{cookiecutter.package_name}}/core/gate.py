"""The champion/challenger gate: should the challenger replace the champion? Pure logic.

Both metric dicts come from the same labelled holdout, scored by both models (jobs/promote.py).
The challenger is promoted only when every check passes: it beats the champion on the gate
metric by the minimum absolute and relative margins, and its calibration is not worse than the
champion's by more than the guardrail allows (a better ranking with badly scaled probabilities
would mislead every threshold and budget built on the scores). Each check becomes one reason
with its numbers, so the decision explains itself in the registry, the report and the audit log.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import log_loss

from ..configs import ContinuousTrainingConfig, EvaluationConfig
from .metrics import classification_metrics

#: Metrics where the smaller value is the better model; for every other one, larger is better.
LOWER_IS_BETTER = frozenset({"brier", "log_loss", "ece", "cost_per_customer"})
#: Scores are clipped this far from 0 and 1 for the log loss (a score of exactly 0 or 1 on a
#: wrong label would make it infinite).
EPSILON = 1e-7


class GateInputError(ValueError):
    """A metric the gate needs is missing from a metrics dict; the message names it."""


@dataclass(frozen=True)
class Decision:
    """The gate's verdict, with one reason per check (``passed: ...`` or ``failed: ...``)."""

    promote: bool
    reasons: tuple[str, ...]
    metric: str
    champion_value: float
    challenger_value: float

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(reason for reason in self.reasons if reason.startswith("failed"))

    @property
    def summary(self) -> str:
        """One line: the first failed check, or that all passed."""
        return self.failed[0] if self.failed else "passed: every check"

    def to_dict(self) -> dict:
        return {
            "decision": "promoted" if self.promote else "rejected",
            "promote": self.promote,
            "reasons": list(self.reasons),
            "metric": self.metric,
            "champion_value": self.champion_value,
            "challenger_value": self.challenger_value,
        }


def decide(
    champion: Mapping[str, float],
    challenger: Mapping[str, float],
    config: ContinuousTrainingConfig,
) -> Decision:
    """Judge the challenger against the champion on metrics from the same holdout."""
    metric = config.metric
    old, new = _value(champion, metric, "champion"), _value(challenger, metric, "challenger")
    gain = improvement(metric, old, new)
    relative = gain / abs(old) if old else (math.inf if gain > 0 else 0.0)
    direction = "lower is better" if metric in LOWER_IS_BETTER else "higher is better"
    checks = [
        _check(
            gain >= config.min_abs_improvement,
            f"{metric} {new:.4f} vs champion {old:.4f} ({direction}): gain {gain:+.4f} "
            f"{_op(gain >= config.min_abs_improvement)} min_abs_improvement "
            f"{config.min_abs_improvement:.4f}",
        ),
        _check(
            relative >= config.min_rel_improvement,
            f"{metric} relative gain {relative:+.2%} {_op(relative >= config.min_rel_improvement)} "
            f"min_rel_improvement {config.min_rel_improvement:.2%}",
        ),
        _calibration_check(champion, challenger, config),
    ]
    return Decision(
        promote=all(passed for passed, _ in checks),
        reasons=tuple(reason for _, reason in checks),
        metric=metric,
        champion_value=old,
        challenger_value=new,
    )


def improvement(metric: str, champion: float, challenger: float) -> float:
    """How much better the challenger is, in the metric's units (negative: worse)."""
    return champion - challenger if metric in LOWER_IS_BETTER else challenger - champion


def _calibration_check(
    champion: Mapping[str, float], challenger: Mapping[str, float], config: ContinuousTrainingConfig
) -> tuple[bool, str]:
    name = config.calibration_metric  # lower is better for both choices (ece, brier)
    old, new = _value(champion, name, "champion"), _value(challenger, name, "challenger")
    worse = new - old
    passed = worse <= config.max_calibration_worsening
    return _check(
        passed,
        f"calibration {name} {new:.4f} vs champion {old:.4f}: worse by {worse:+.4f} "
        f"{'<=' if passed else '>'} max_calibration_worsening "
        f"{config.max_calibration_worsening:.4f}",
    )


def _check(passed: bool, text: str) -> tuple[bool, str]:
    return passed, f"{'passed' if passed else 'failed'}: {text}"


def _op(passed: bool) -> str:
    return ">=" if passed else "<"


def _value(metrics: Mapping[str, float], name: str, whose: str) -> float:
    if name not in metrics:
        raise GateInputError(f"the {whose}'s metrics lack {name!r} (have: {sorted(metrics)})")
    value = float(metrics[name])
    if not math.isfinite(value):
        raise GateInputError(f"the {whose}'s {name} is {value}: not a number the gate can judge")
    return value


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """The gap between predicted and observed churn rates, averaged over equal-width score
    bins weighted by their row counts (0 is perfectly calibrated)."""
    index = np.clip((scores * bins).astype(int), 0, bins - 1)
    observed = np.bincount(index, weights=labels, minlength=bins)
    predicted = np.bincount(index, weights=scores, minlength=bins)
    return float(np.abs(observed - predicted).sum() / len(labels))


def holdout_metrics(
    labels: np.ndarray, scores: np.ndarray, evaluation: EvaluationConfig, bins: int
) -> dict[str, float]:
    """The flat metrics the gate can judge, from one model's scores on the holdout."""
    metrics = classification_metrics(
        labels,
        scores,
        evaluation.false_positive_cost,
        evaluation.false_negative_cost,
        evaluation.top_fraction,
    )
    clipped = np.clip(scores, EPSILON, 1 - EPSILON)
    return {
        "roc_auc": metrics["roc_auc"],
        "pr_auc": metrics["pr_auc"],
        "lift_top_decile": metrics["lift_top_decile"],
        "brier": metrics["brier"],
        "log_loss": round(float(log_loss(labels, clipped, labels=[0, 1])), 6),
        "ece": round(expected_calibration_error(labels, scores, bins), 6),
        "cost_per_customer": metrics["decision"]["cost_per_customer"],
    }
