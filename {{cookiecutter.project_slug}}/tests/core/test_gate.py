from typing import get_args

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.configs import ContinuousTrainingConfig, EvaluationConfig
from {{ cookiecutter.package_name }}.core.gate import (
    GateInputError,
    decide,
    expected_calibration_error,
    holdout_metrics,
)

GATE = ContinuousTrainingConfig(
    metric="roc_auc",
    min_abs_improvement=0.002,
    min_rel_improvement=0.0,
    calibration_metric="ece",
    max_calibration_worsening=0.01,
)
CHAMPION = {"roc_auc": 0.7901, "brier": 0.1500, "ece": 0.0300}


def test_a_clearly_better_challenger_is_promoted_with_every_check_named():
    challenger = {"roc_auc": 0.8123, "brier": 0.1400, "ece": 0.0250}

    decision = decide(CHAMPION, challenger, GATE)

    assert decision.promote
    assert decision.reasons == (
        "passed: roc_auc 0.8123 vs champion 0.7901 (higher is better): gain +0.0222 >= "
        "min_abs_improvement 0.0020",
        "passed: roc_auc relative gain +2.81% >= min_rel_improvement 0.00%",
        "passed: calibration ece 0.0250 vs champion 0.0300: worse by -0.0050 <= "
        "max_calibration_worsening 0.0100",
    )
    assert decision.failed == ()
    assert decision.to_dict()["decision"] == "promoted"


def test_a_gain_below_the_minimum_is_rejected():
    challenger = {"roc_auc": 0.7911, "ece": 0.0300}

    decision = decide(CHAMPION, challenger, GATE)

    assert not decision.promote
    assert decision.failed == (
        "failed: roc_auc 0.7911 vs champion 0.7901 (higher is better): gain +0.0010 < "
        "min_abs_improvement 0.0020",
    )
    assert decision.summary == decision.failed[0]


def test_a_worse_challenger_fails_both_gain_checks():
    decision = decide(CHAMPION, {"roc_auc": 0.7500, "ece": 0.0300}, GATE)

    assert not decision.promote
    assert len(decision.failed) == 2
    assert "gain -0.0401 <" in decision.failed[0]
    assert "relative gain -5.08% <" in decision.failed[1]


def test_the_relative_minimum_can_block_what_the_absolute_one_lets_through():
    gate = GATE.model_copy(update={"min_rel_improvement": 0.05})

    decision = decide(CHAMPION, {"roc_auc": 0.8123, "ece": 0.0300}, gate)

    assert not decision.promote
    assert decision.failed == ("failed: roc_auc relative gain +2.81% < min_rel_improvement 5.00%",)


def test_the_calibration_guardrail_stops_a_better_ranker_with_worse_probabilities():
    challenger = {"roc_auc": 0.8500, "ece": 0.0450}

    decision = decide(CHAMPION, challenger, GATE)

    assert not decision.promote
    assert decision.failed == (
        "failed: calibration ece 0.0450 vs champion 0.0300: worse by +0.0150 > "
        "max_calibration_worsening 0.0100",
    )


def test_lower_is_better_metrics_count_a_decrease_as_the_gain():
    gate = GATE.model_copy(update={"metric": "brier", "calibration_metric": "brier"})

    better = decide(CHAMPION, {"brier": 0.1400}, gate)
    worse = decide(CHAMPION, {"brier": 0.1600}, gate)

    assert better.promote
    assert "brier 0.1400 vs champion 0.1500 (lower is better): gain +0.0100 >=" in better.reasons[0]
    assert not worse.promote
    assert "gain -0.0100 <" in worse.reasons[0]


def test_a_missing_or_undefined_metric_is_an_input_error_naming_it():
    with pytest.raises(GateInputError, match="challenger's metrics lack 'roc_auc'"):
        decide(CHAMPION, {"ece": 0.02}, GATE)
    with pytest.raises(GateInputError, match="champion's roc_auc is nan"):
        decide({**CHAMPION, "roc_auc": float("nan")}, CHAMPION, GATE)


def test_calibration_error_is_zero_when_each_bin_matches_its_churn_rate():
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    calibrated = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    overconfident = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])

    assert expected_calibration_error(labels, calibrated) == pytest.approx(0.0)
    # Each half is off by 0.25 (predicted 0, observed 0.25; predicted 1, observed 0.75).
    assert expected_calibration_error(labels, overconfident) == pytest.approx(0.25)


def test_holdout_metrics_are_flat_and_cover_every_gate_metric():
    rng = np.random.default_rng(0)
    scores = rng.random(500)
    labels = (rng.random(500) < scores).astype("int64")

    metrics = holdout_metrics(labels, scores, EvaluationConfig(), bins=10)

    gate_metrics = get_args(ContinuousTrainingConfig.model_fields["metric"].annotation)
    assert set(gate_metrics) <= set(metrics)
    assert metrics["roc_auc"] > 0.7
    assert metrics["ece"] < 0.1  # the scores are the true probabilities
