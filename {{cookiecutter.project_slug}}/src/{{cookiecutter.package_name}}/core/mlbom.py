"""A registered version's lineage record and model card as a CycloneDX ML-BOM (CycloneDX 1.6).

The model is a ``machine-learning-model`` component (MLflow name and version, the SHA-256 of its
files, run and lineage as properties) that depends on a ``data`` component (the training data,
with the MD5 DVC records as its version). cyclonedx-python-lib builds and serializes those; it
does not model CycloneDX's ``modelCard`` and component ``data`` objects yet, so ``to_json`` adds
them to the serialized components by bom-ref, and ``validate`` checks the whole document against
the CycloneDX JSON schema. Pure: jobs/governance.py writes the file (mlbom.cdx.json).
"""

import json
from datetime import datetime
from email.utils import parseaddr
from uuid import NAMESPACE_URL, uuid5

from cyclonedx.contrib.this.builders import this_component
from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalContact
from cyclonedx.model.license import DisjunctiveLicense
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from .lineage import sha256
from .model_card import METRICS, CardText
from .schema import INPUT_COLUMNS

SPEC_VERSION = SchemaVersion.V1_6
#: Words for the model kinds (CycloneDX modelParameters.architectureFamily).
ARCHITECTURES = {
    "logistic_regression": "linear model (logistic regression)",
    "gradient_boosting": "gradient-boosted decision trees",
    "tabular_net": "feed-forward neural network",
}
#: Card files the BOM points to; they lie beside it (reports/governance/<name>-v<N>/).
CARD_FILE, LINEAGE_FILE = "model_card.html", "lineage.json"


def build_bom(lineage: dict, text: CardText, *, model_sha256: str, tool: tuple[str, str]) -> Bom:
    """The BOM of one version: model and data components, model -> data, who and what made it.

    ``tool`` is the project's (name, version), listed with cyclonedx-python-lib as the tools.
    The version's aliases are not in it: they move (a promotion) after the BOM is written.
    """
    model, data = _model_component(lineage, text, model_sha256), _data_component(lineage)
    owner = _contact(text.owner)
    project = Component(type=ComponentType.APPLICATION, name=tool[0], version=tool[1])
    bom = Bom(
        serial_number=uuid5(NAMESPACE_URL, f"{lineage['model']['uri']}#{sha256(lineage)}"),
        metadata=BomMetaData(
            timestamp=datetime.fromisoformat(lineage["recorded_at"]),
            tools=ToolRepository(components=[project, this_component()]),
            authors=[owner] if owner else [],
        ),
        components=[model, data],
    )
    bom.register_dependency(model, [data])
    bom.register_dependency(data, [])
    return bom


def model_ref(lineage: dict) -> str:
    return f"model/{lineage['model']['name']}@{lineage['model']['version']}"


def data_ref(lineage: dict) -> str:
    return f"data/{lineage['data']['dvc_md5'] or 'unknown'}"


def to_json(bom: Bom, lineage: dict, text: CardText) -> str:
    """The BOM as CycloneDX 1.6 JSON, with the model's ``modelCard`` and the data's ``data``."""
    document = json.loads(JsonV1Dot6(bom).output_as_string())
    for component in document["components"]:
        if component["bom-ref"] == model_ref(lineage):
            component["modelCard"] = model_card(lineage, text)
        elif component["bom-ref"] == data_ref(lineage):
            component["data"] = [_data_details(lineage, text)]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def validate(document: str) -> str | None:
    """None when ``document`` is valid CycloneDX 1.6 JSON, else the first problem and where."""
    error = JsonStrictValidator(SPEC_VERSION).validate_str(document)
    if error is None:
        return None
    where = "/".join(str(part) for part in error.data.absolute_path) or "(document)"
    return f"{where}: {error.data.message}"


def model_card(lineage: dict, text: CardText) -> dict:
    """The CycloneDX ``modelCard``: parameters, metrics (overall and per group), considerations."""
    kind = lineage["model"]["kind"]
    hyper = {
        k: v
        for k, v in lineage["params"].items()
        if k.startswith(f"model.{kind}.") or k == "model.seed"
    }
    users = [
        item.removeprefix("Users:").strip()
        for item in text.intended_use
        if item.startswith("Users:")
    ]
    return {
        "modelParameters": {
            "approach": {"type": "supervised"},
            "task": "binary classification (churn)",
            "architectureFamily": ARCHITECTURES.get(kind, kind),
            "modelArchitecture": kind,
            "datasets": [{"ref": data_ref(lineage)}],
            "inputs": [{"format": "table, one row per customer: " + ", ".join(INPUT_COLUMNS)}],
            "outputs": [{"format": "probability of churn per row (0 to 1)"}],
        },
        "quantitativeAnalysis": {"performanceMetrics": _performance(lineage)},
        "considerations": {
            "users": users,
            "useCases": [item for item in text.intended_use if not item.startswith("Users:")],
            "technicalLimitations": [
                *text.caveats,
                *(f"Out of scope: {i}" for i in text.out_of_scope),
            ],
            "ethicalConsiderations": [{"name": item} for item in text.ethical_considerations],
            "fairnessAssessments": _fairness(lineage, text),
        },
        "properties": [{"name": f"param:{k}", "value": str(v)} for k, v in sorted(hyper.items())],
    }


def _model_component(lineage: dict, text: CardText, model_sha256: str) -> Component:
    model, environment = lineage["model"], lineage["environment"] or {}
    facts = {
        "mlflow:run_id": model["run_id"],
        "mlflow:model_uri": model["uri"],
        "lineage:model_kind": model["kind"],
        "lineage:git_commit": lineage["code"]["git_commit"],
        "lineage:recorded_at": lineage["recorded_at"],
        "lineage:record_sha256": sha256(lineage),
        "lineage:python_version": environment.get("python_version", "unknown"),
        "lineage:constraints_sha256": environment.get("constraints_sha256") or "unknown",
        "lineage:image_digest": environment.get("image_digest") or "none",
    }
    owner = _contact(text.owner)
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        bom_ref=model_ref(lineage),
        name=model["name"],
        version=model["version"],
        description=text.intended_use[0] if text.intended_use else None,
        purl=PackageURL(
            "mlflow",
            name=model["name"],
            version=model["version"],
            qualifiers={"run_id": model["run_id"]},
        ),
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=model_sha256)] if model_sha256 else [],
        licenses=[DisjunctiveLicense(name=text.license)],
        authors=[owner] if owner else [],
        properties=[Property(name=name, value=value) for name, value in facts.items()],
        external_references=[
            ExternalReference(type=ExternalReferenceType.MODEL_CARD, url=XsUri(CARD_FILE)),
            ExternalReference(type=ExternalReferenceType.BUILD_META, url=XsUri(LINEAGE_FILE)),
        ],
    )


def _data_component(lineage: dict) -> Component:
    data, md5 = lineage["data"], lineage["data"]["dvc_md5"]
    return Component(
        type=ComponentType.DATA,
        bom_ref=data_ref(lineage),
        name=data["path"].replace("\\", "/").rsplit("/", 1)[-1] or "training data",
        version=md5 or None,
        hashes=[HashType(alg=HashAlgorithm.MD5, content=md5)] if md5 else [],
        properties=[
            Property(name="lineage:data_path", value=data["path"]),
            Property(name="lineage:train_md5", value=data["train_md5"]),
        ],
    )


def _data_details(lineage: dict, text: CardText) -> dict:
    owner = _contact(text.owner)
    details: dict = {
        "type": "dataset",
        "name": "training data",
        "description": "Customer records: the model was trained on a split of them and "
        "evaluated on the held-out rest. The MD5s: the data version (as DVC records it) and "
        "the training split's.",
        "contents": {
            "properties": [
                {"name": "path", "value": lineage["data"]["path"]},
                {"name": "train_md5", "value": lineage["data"]["train_md5"]},
            ]
        },
    }
    if owner:
        details["governance"] = {"owners": [{"contact": _contact_json(owner)}]}
    return details


def _performance(lineage: dict) -> list[dict]:
    metrics = lineage["metrics"]
    overall = [
        {"type": name, "value": str(metrics[name])}
        for name in METRICS
        if metrics.get(name) is not None
    ]
    per_group = [
        {"type": name, "value": str(row[name]), "slice": f"{row['factor']}={row['group']}"}
        for row in lineage["factors"]
        for name in ("roc_auc", "churn_rate", "mean_score")
        if row.get(name) is not None
    ]
    return overall + per_group


def _fairness(lineage: dict, text: CardText) -> list[dict]:
    groups: dict[str, list[str]] = {}
    for row in lineage["factors"]:
        groups.setdefault(row["factor"], []).append(row["group"])
    note = " ".join(text.factors)
    return [
        {
            "groupAtRisk": f"customers by {factor} ({', '.join(values)})",
            "mitigationStrategy": f"{note} Per-group results: quantitativeAnalysis, slice "
            f"'{factor}=<group>'.".strip(),
        }
        for factor, values in groups.items()
    ]


def _contact(owner: str) -> OrganizationalContact | None:
    """model_card.yaml's owner as a CycloneDX contact: ``Name <email>`` or a bare address gives
    both parts; anything else ("Data Science Team", "Owner (team)") is all name. parseaddr alone
    would read a plain "Data Science Team" as the address "Data", which the schema rejects."""
    owner = owner.strip()
    if not owner:
        return None
    name, email = parseaddr(owner)
    local, at, domain = email.partition("@")
    if at and local and domain and "@" not in domain and not any(c.isspace() for c in email):
        return OrganizationalContact(name=name or None, email=email)
    return OrganizationalContact(name=owner)


def _contact_json(contact: OrganizationalContact) -> dict:
    found = {"name": contact.name, "email": contact.email}
    return {key: value for key, value in found.items() if value}
