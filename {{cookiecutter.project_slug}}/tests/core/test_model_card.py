"""Lineage records, their registry tags, per-group results and the two renderings of a card."""

import base64
import hashlib

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.core.audit import canonical
from {{ cookiecutter.package_name }}.core.lineage import (
    RECORDED_TAG,
    Environment,
    lineage_record,
    lineage_tags,
)
from {{ cookiecutter.package_name }}.core.model_card import (
    CardText,
    build_card,
    disaggregate,
    to_html,
    to_markdown,
)

SECTIONS = [
    "Model details",
    "Intended use",
    "Factors",
    "Metrics",
    "Evaluation data",
    "Training data",
    "Quantitative analyses",
    "Ethical considerations",
    "Caveats and recommendations",
]
PNG = b"\x89PNG\r\n\x1a\nnot-really-an-image"


@pytest.fixture
def lineage() -> dict:
    return lineage_record(
        name="churn",
        version="3",
        run_id="abc123",
        params={"model.kind": "logistic_regression", "model.logistic_regression.c": "0.5"},
        metrics={
            "roc_auc": 0.81234,
            "churn_rate": 0.25,
            "decision.confusion.true_positive": 10.0,
            "decision.confusion.false_negative": 5.0,
            "decision.confusion.false_positive": 20.0,
            "decision.confusion.true_negative": 65.0,
        },
        run_tags={"git_commit": "f00d", "data_md5": "d" * 32, "train_md5": "t" * 32},
        environment=Environment("3.11.7", "c" * 64, "sha256:1234"),
        factors=[
            {
                "factor": "gender",
                "group": "Female",
                "rows": 50,
                "churn_rate": 0.2,
                "mean_score": 0.3,
                "roc_auc": None,
            }
        ],
        recorded_at="2026-01-05T10:00:00+00:00",
    )


def test_tags_carry_the_lineage_and_the_record_hash(lineage):
    tags = lineage_tags(lineage)

    assert tags["lineage.git_commit"] == "f00d"
    assert tags["lineage.data_md5"] == "d" * 32
    assert tags["lineage.run_id"] == "abc123"
    assert tags["lineage.image_digest"] == "sha256:1234"
    assert tags["lineage.record_sha256"] == hashlib.sha256(canonical(lineage)).hexdigest()
    assert list(tags)[-1] == RECORDED_TAG  # set last: it marks a complete set


def test_a_record_made_after_the_fact_says_the_environment_is_unknown(lineage):
    tags = lineage_tags({**lineage, "environment": None})

    assert tags["lineage.python_version"] == "unknown"
    assert tags["lineage.image_digest"] == "none"


def test_disaggregate_gives_each_group_its_own_numbers():
    values = np.array(["a"] * 40 + ["b"] * 10)
    labels = np.array([0, 1] * 20 + [1] * 10)
    scores = np.where(labels == 1, 0.9, 0.1)

    rows = {row["group"]: row for row in disaggregate({"g": values}, labels, scores)}

    assert rows["a"]["rows"] == 40
    assert rows["a"]["churn_rate"] == 0.5
    assert rows["a"]["roc_auc"] == 1.0
    assert rows["b"]["roc_auc"] is None  # too few rows, and one class only
    assert rows["b"]["mean_score"] == pytest.approx(0.9)


def test_a_model_that_scores_nan_still_gets_a_record_and_a_card(lineage):
    values = np.array(["a"] * 40)
    labels = np.array([0, 1] * 20)
    broken = np.full(40, np.nan)

    (row,) = disaggregate({"g": values}, labels, broken)
    record = {**lineage, "factors": [row], "metrics": {**lineage["metrics"], "roc_auc": None}}

    assert (row["mean_score"], row["roc_auc"]) == (None, None)
    assert len(lineage_tags(record)["lineage.record_sha256"]) == 64  # JSON without NaN
    assert "| roc_auc | n/a |" in to_markdown(build_card(record, CardText(), []))


def test_a_metric_that_is_nan_is_recorded_as_null():
    record = lineage_record(
        name="churn",
        version="1",
        run_id="r",
        params={},
        metrics={"roc_auc": float("nan"), "brier": 0.2},
        run_tags={},
        environment=None,
        factors=[],
        recorded_at="2026-01-05T10:00:00+00:00",
    )

    assert record["metrics"] == {"brier": 0.2, "roc_auc": None}
    assert canonical(record)  # strict JSON


def test_the_card_has_mitchell_et_al_sections_in_order(lineage):
    card = build_card(lineage, CardText(), ["roc.png"])

    assert [section.title for section in card.sections] == SECTIONS
    markdown = to_markdown(card)
    positions = [markdown.index(f"## {n}. {title}") for n, title in enumerate(SECTIONS, 1)]
    assert positions == sorted(positions)
    assert "git commit f00d" in markdown
    assert "| roc_auc | 0.8123 |" in markdown
    assert "100 rows" in markdown  # the evaluation data: the confusion counts
    assert "![ROC curve on the evaluation data](figures/roc.png)" in markdown


def test_html_is_escaped_and_self_contained(lineage):
    text = CardText(owner="<script>alert(1)</script>", caveats=("a | b & <c>",))
    card = build_card(lineage, text, ["roc.png"])

    page = to_html(card, {"roc.png": PNG})

    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a | b &amp; &lt;c&gt;" in page
    assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in page
    assert 'src="http' not in page  # nothing to fetch
    assert "href=" not in page
    assert "- a | b & <c>" in to_markdown(card)  # Markdown keeps the text as written


def test_card_text_is_closed():
    with pytest.raises(ValueError, match="intended_uses"):
        CardText.model_validate({"intended_uses": ["typo"]})
