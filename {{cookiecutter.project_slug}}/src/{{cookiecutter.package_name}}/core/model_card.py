"""Model cards (Mitchell et al. 2019, "Model Cards for Model Reporting"): one per version.

The card is built once as structured sections from the version's lineage record (its metrics,
parameters, data and per-group results) and the narrative in configs/model_card.yaml, then
rendered twice: Markdown (figures beside it) and self-contained HTML (figures embedded, every text
escaped). Pure: no files; jobs/governance.py reads and writes them.
"""

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_auc_score

from ..configs import StrictConfig

CITATION = "Mitchell et al., 2019, Model Cards for Model Reporting (FAT* '19)"
#: Headline metrics, in the order the card shows them, with what each one says.
METRICS = {
    "roc_auc": "ROC AUC: how well scores rank churners above stayers (0.5 is chance)",
    "pr_auc": "PR AUC (average precision): ranking quality when churners are the minority",
    "brier": "Brier score: mean squared error of the probabilities (lower is better)",
    "lift_top_decile": "Lift: churn rate among the top-scored customers over the base rate",
    "churn_rate": "Churn rate of the evaluation data",
    "decision.threshold": "Decision threshold: the score above which a customer is flagged",
    "decision.precision": "Precision at the threshold: share of flagged customers who churn",
    "decision.recall": "Recall at the threshold: share of churners who are flagged",
    "decision.cost_per_customer": "Expected cost per customer at the threshold",
}
FIGURES = {
    "roc.png": "ROC curve on the evaluation data",
    "calibration.png": "Calibration: predicted probability against observed churn rate",
    "confusion_matrix.png": "Confusion matrix at the decision threshold",
    "feature_importance.png": "Permutation importance of each input column",
}
#: Groups smaller than this get counts but no AUC: too few rows to say anything.
MIN_GROUP_ROWS = 30


class CardText(StrictConfig):
    """The narrative sections; configs/model_card.yaml overrides any of them."""

    owner: str = {{ (cookiecutter.author_name ~ " <" ~ cookiecutter.author_email ~ ">")|jsonify }}
    license: str = "Internal use only"
    intended_use: tuple[str, ...] = (
        "Rank current customers by their probability of leaving, so that a retention team "
        "decides whom to contact first.",
        "Users: retention analysts, through the prediction server or batch scoring.",
    )
    out_of_scope: tuple[str, ...] = (
        "Decisions with a legal or similarly significant effect on a person (pricing, credit, "
        "ending a contract) without human review.",
        "Customers unlike the training data (other products, markets or periods) without a new "
        "evaluation.",
    )
    factors: tuple[str, ...] = (
        "gender and SeniorCitizen are inputs of the model; household (Partner, Dependents) and "
        "Contract change churn behaviour. Results are broken down by each of them below.",
    )
    ethical_considerations: tuple[str, ...] = (
        "The model uses gender and age group (SeniorCitizen) as features: check the per-group "
        "results before use, and train without them where law or policy requires it.",
        "Scores decide who is offered retention incentives; a biased model can leave groups "
        "out of offers systematically.",
{%- if cookiecutter|layer_enabled("serving") %}
        "The prediction audit log keeps a SHA-256 of each input, not the values: a pseudonym, "
        "not anonymisation (whoever holds an input can confirm that it was scored).",
{%- endif %}
    )
    caveats: tuple[str, ...] = (
        "Trained on the synthetic generator's data (the project's default), these results "
        "describe the generator, not real customers.",
        "Behaviour drifts: monitor the inputs and retrain; calibration degrades first.",
        "The threshold minimises expected cost for the configured costs "
        "(evaluation.false_positive_cost, evaluation.false_negative_cost): revisit it when "
        "they change.",
    )


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file, caption)


@dataclass(frozen=True)
class ModelCard:
    title: str
    sections: list[Section]


def disaggregate(
    groups: Mapping[str, np.ndarray], labels: np.ndarray, scores: np.ndarray
) -> list[dict]:
    """Rows, churn rate, mean score and AUC per value of each factor column (None where a group
    is too small, has one class only, or the model scored NaN)."""
    found = []
    for factor, values in groups.items():
        for group in sorted(set(values.tolist()), key=str):
            mask = values == group
            rows, positives = int(mask.sum()), int(labels[mask].sum())
            finite = bool(np.isfinite(scores[mask]).all())
            enough = finite and rows >= MIN_GROUP_ROWS and 0 < positives < rows
            auc = float(roc_auc_score(labels[mask], scores[mask])) if enough else None
            found.append(
                {
                    "factor": factor,
                    "group": str(group),
                    "rows": rows,
                    "churn_rate": round(positives / rows, 6),
                    "mean_score": round(float(scores[mask].mean()), 6) if finite else None,
                    "roc_auc": None if auc is None else round(auc, 6),
                }
            )
    return found


def build_card(lineage: dict, text: CardText, figures: list[str]) -> ModelCard:
    """The card's sections, in Mitchell et al.'s order, from a lineage record."""
    model, metrics = lineage["model"], lineage["metrics"]
    return ModelCard(
        title=f"Model card: {model['name']} version {model['version']}",
        sections=[
            _details(lineage, text),
            Section("Intended use", bullets=[*text.intended_use, *_prefixed(text.out_of_scope)]),
            Section("Factors", paragraphs=list(text.factors)),
            Section("Metrics", bullets=[METRICS[name] for name in METRICS if name in metrics]),
            _evaluation_data(lineage),
            _training_data(lineage),
            _analyses(lineage, figures),
            Section("Ethical considerations", bullets=list(text.ethical_considerations)),
            Section("Caveats and recommendations", bullets=list(text.caveats)),
        ],
    )


def _prefixed(out_of_scope: tuple[str, ...]) -> list[str]:
    return [f"Out of scope: {item}" for item in out_of_scope]


def _details(lineage: dict, text: CardText) -> Section:
    model, environment = lineage["model"], lineage["environment"] or {}
    params = lineage["params"]
    kind = model["kind"]
    hyper = {k: v for k, v in params.items() if k.startswith(f"model.{kind}.") or k == "model.seed"}
    return Section(
        "Model details",
        bullets=[
            f"Model: {model['name']} version {model['version']} ({model['uri']}), kind {kind}",
            f"Owner: {text.owner}; license: {text.license}",
            f"Registered: {lineage['recorded_at']}; MLflow run {model['run_id']}",
            f"Code: git commit {lineage['code']['git_commit']}",
            f"Environment: Python {environment.get('python_version', 'unknown')}, "
            f"constraints.txt sha256 {environment.get('constraints_sha256') or 'unknown'}, "
            f"image {environment.get('image_digest') or 'none (not run from an image)'}",
            f"Card format: {CITATION}",
        ],
        tables=[Table(("parameter", "value"), [(k, str(v)) for k, v in sorted(hyper.items())])],
    )


def _evaluation_data(lineage: dict) -> Section:
    params, metrics = lineage["params"], lineage["metrics"]
    rows = sum(int(v) for k, v in metrics.items() if k.startswith("decision.confusion."))
    return Section(
        "Evaluation data",
        paragraphs=[
            f"The held-out test split of the training source: {rows:,} rows "
            f"(test_size {params.get('split.test_size', '?')}, seed {params.get('split.seed', '?')}"
            f"), churn rate {_number(metrics.get('churn_rate'), '.4f')}. Rows that broke the "
            "data contract were quarantined before the split."
        ],
    )


def _training_data(lineage: dict) -> Section:
    data, params = lineage["data"], lineage["params"]
    synthetic = ", ".join(
        f"{key.removeprefix('synthetic.')} {value}"
        for key, value in params.items()
        if key.startswith("synthetic.")
    )
    return Section(
        "Training data",
        bullets=[
            f"Source: {data['path'] or 'unknown'}",
            f"Data version (MD5 as DVC records it): {data['dvc_md5'] or 'unknown'}",
            f"Training split MD5: {data['train_md5'] or 'unknown'}",
            f"When generated (no CSV of your own): synthetic data with {synthetic or 'defaults'}",
        ],
    )


def _analyses(lineage: dict, figures: list[str]) -> Section:
    metrics = lineage["metrics"]
    headline = [(name, _number(metrics[name], ".4f")) for name in METRICS if name in metrics]
    confusion = [
        (k.removeprefix("decision.confusion.").replace("_", " "), f"{int(v):,}")
        for k, v in metrics.items()
        if k.startswith("decision.confusion.")
    ]
    groups = [
        (
            f["factor"],
            f["group"],
            f"{f['rows']:,}",
            f"{f['churn_rate']:.3f}",
            _number(f["mean_score"], ".3f"),
            _number(f["roc_auc"], ".3f"),
        )
        for f in lineage["factors"]
    ]
    tables = [Table(("metric", "value"), headline), Table(("outcome", "customers"), confusion)]
    if groups:
        header = ("factor", "group", "rows", "churn rate", "mean score", "ROC AUC")
        tables.append(Table(header, groups))
    return Section(
        "Quantitative analyses",
        paragraphs=["On the evaluation data; per group where the lineage recorded groups."],
        tables=tables,
        figures=[(name, FIGURES.get(name, name)) for name in figures],
    )


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def to_markdown(card: ModelCard) -> str:
    """The card as Markdown; figures are files beside it (figures/<name>)."""
    lines = [f"# {card.title}", ""]
    for number, section in enumerate(card.sections, start=1):
        lines += [f"## {number}. {section.title}", ""]
        lines += [line for paragraph in section.paragraphs for line in (paragraph, "")]
        lines += [f"- {bullet}" for bullet in section.bullets] + ([""] if section.bullets else [])
        for table in section.tables:
            lines += [_md_row(table.header), _md_row(tuple("---" for _ in table.header))]
            lines += [_md_row(row) for row in table.rows] + [""]
        lines += [f"![{caption}](figures/{name})\n" for name, caption in section.figures]
    return "\n".join(lines).rstrip() + "\n"


def _md_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#222}table{border-collapse:collapse;margin:1rem 0}"
    "td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}img{max-width:100%}"
    "figure{margin:1rem 0}figcaption{font-size:.9rem;color:#555}"
)


def to_html(card: ModelCard, images: Mapping[str, bytes]) -> str:
    """The card as one self-contained HTML page: every text escaped, figures embedded."""
    esc = html.escape
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(card.title)}'
        f"</title><style>{STYLE}</style></head><body><main><h1>{esc(card.title)}</h1>"
    ]
    for number, section in enumerate(card.sections, start=1):
        parts.append(f"<section><h2>{number}. {esc(section.title)}</h2>")
        parts += [f"<p>{esc(paragraph)}</p>" for paragraph in section.paragraphs]
        if section.bullets:
            parts.append("<ul>" + "".join(f"<li>{esc(b)}</li>" for b in section.bullets) + "</ul>")
        parts += [_html_table(table) for table in section.tables]
        parts += [_html_figure(name, text, images.get(name)) for name, text in section.figures]
        parts.append("</section>")
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_figure(name: str, caption: str, image: bytes | None) -> str:
    if image is None:
        return f"<p>{html.escape(caption)}: figure {html.escape(name)} not recorded.</p>"
    data = base64.b64encode(image).decode("ascii")
    alt = html.escape(caption)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
        f"<figcaption>{alt}</figcaption></figure>"
    )
