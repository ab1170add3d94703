"""A registered version's lineage: what went in (code, data, parameters, environment, image) and
what came out (run, metrics, per-group results), as one JSON record and as registry tags.

Pure: jobs/governance.py gathers the facts; this shapes them. The record is logged with the model
(``governance/lineage.json`` in the version's run); the tags (``lineage.*``) put the essentials
where the registry UI and ``search_model_versions`` see them.
"""

import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from .audit import canonical

SCHEMA_VERSION = 1
TAG_PREFIX = "lineage."
#: Set last, so a version that has it has all the others (a retry checks for it).
RECORDED_TAG = TAG_PREFIX + "recorded_at"


@dataclass(frozen=True)
class Environment:
    """Where the model was registered from."""

    python_version: str
    #: SHA-256 of requirements/constraints.txt, the locked dependencies; "" when not found.
    constraints_sha256: str
    #: The container image's digest when the job ran in one (settings.image_digest), else "".
    image_digest: str = ""


def lineage_record(
    *,
    name: str,
    version: str,
    run_id: str,
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    run_tags: Mapping[str, str],
    environment: Environment | None,
    factors: list[dict],
    recorded_at: str,
) -> dict:
    """The lineage record of one version; ``environment`` None: recorded after the fact."""
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {
            "name": name,
            "version": version,
            "uri": f"models:/{name}/{version}",
            "run_id": run_id,
            "kind": run_tags.get("model_kind") or params.get("model.kind", "unknown"),
        },
        "code": {"git_commit": run_tags.get("git_commit", "unknown")},
        "data": {
            "path": run_tags.get("data_path", ""),
            # The raw data's MD5, as DVC records it in dvc.lock: the data version.
            "dvc_md5": run_tags.get("data_md5", ""),
            "train_md5": run_tags.get("train_md5", ""),
        },
        "params": dict(sorted(params.items())),
        # NaN is not JSON: a metric a broken model could not reach is recorded as null.
        "metrics": {k: v if math.isfinite(v) else None for k, v in sorted(metrics.items())},
        "factors": factors,
        "environment": asdict(environment) if environment else None,
        "recorded_at": recorded_at,
    }


def sha256(document: object) -> str:
    return hashlib.sha256(canonical(document)).hexdigest()


def lineage_tags(record: dict) -> dict[str, str]:
    """Registry tags for the record, ``lineage.*``; ``record_sha256`` ties them to the JSON."""
    environment = record["environment"] or {}
    tags = {
        "run_id": record["model"]["run_id"],
        "model_kind": record["model"]["kind"],
        "git_commit": record["code"]["git_commit"],
        "data_md5": record["data"]["dvc_md5"],
        "train_md5": record["data"]["train_md5"],
        "params_sha256": sha256(record["params"]),
        "python_version": environment.get("python_version", "unknown"),
        "constraints_sha256": environment.get("constraints_sha256") or "unknown",
        "image_digest": environment.get("image_digest") or "none",
        "record_sha256": sha256(record),
    }
    return {TAG_PREFIX + key: value for key, value in tags.items()} | {
        RECORDED_TAG: record["recorded_at"]
    }
