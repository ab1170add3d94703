"""Write the JSON schema of KServe's InferenceService (v1beta1) from its Python SDK's API models.

KServe's CRD is 1 MB of YAML, most of it Kubernetes' own pod and container types inlined three
times (predictor, transformer, explainer). Its SDK's models are generated from the same Go API
types (openapi-gen), so this rebuilds the schema from them: every KServe object with exactly its
fields (``additionalProperties: false``), every Kubernetes type taken whole from
kubernetes-validate's definitions of the same release, descriptions dropped.

    pip download --no-deps kserve==0.21.0 && unzip -q kserve-0.21.0-*.whl -d kserve-sdk
    python kserve_schema.py kserve-sdk .../kubernetes_validate/kubernetes-json-schema/\\
        v1.37.0-local-strict/_definitions.json > serving.kserve.io_inferenceservice_v1beta1.json
"""

import ast
import json
import re
import sys
from pathlib import Path

SCALARS = {"str": "string", "int": "integer", "bool": "boolean", "float": "number"}
#: SDK names of Kubernetes types that are neither ``V1<Kind>`` of core/v1 nor
#: ``K8sIoApi<Group><Version><Kind>``.
KUBERNETES_NAMES = {
    "ResourceQuantity": "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "V1beta1MetricQuantity": "io.k8s.apimachinery.pkg.api.resource.Quantity",  # no SDK class
    "V1ObjectMeta": "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    "V1LabelSelector": "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "V1Time": "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
}


def sdk_models(folder: Path) -> dict[str, dict]:
    """Each SDK model class: its JSON field names, their SDK types, and the required ones."""
    models = {}
    for path in sorted((folder / "kserve" / "models").glob("v1*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                tables = {
                    target.id: ast.literal_eval(statement.value)
                    for statement in node.body
                    if isinstance(statement, ast.Assign)
                    for target in statement.targets
                    if isinstance(target, ast.Name)
                }
                required = re.findall(r"`(\w+)`, must not be `None`", path.read_text())
                models[node.name] = {
                    "fields": {
                        tables["attribute_map"][name]: kind
                        for name, kind in tables["openapi_types"].items()
                    },
                    "required": sorted(tables["attribute_map"][name] for name in required),
                }
    return models


class Builder:
    def __init__(self, models: dict[str, dict], kubernetes: dict[str, dict]) -> None:
        self.models, self.kubernetes, self.defs = models, kubernetes, {}

    def schema(self, kind: str) -> dict:
        if kind in SCALARS:
            return {"type": SCALARS[kind]}
        if kind == "object":
            return {}
        if match := re.fullmatch(r"list\[(.+)\]", kind):
            return {"type": "array", "items": self.schema(match[1])}
        if match := re.fullmatch(r"dict\(str, (.+)\)", kind):
            return {"type": "object", "additionalProperties": self.schema(match[1])}
        if kind in self.models:
            return self.kserve(kind)
        return self.reference(KUBERNETES_NAMES.get(kind) or self.core(kind))

    def kserve(self, kind: str) -> dict:
        if kind not in self.defs:
            self.defs[kind] = {}  # placeholder: types may refer to themselves
            model = self.models[kind]
            properties = {name: self.schema(sub) for name, sub in model["fields"].items()}
            self.defs[kind] = {
                "type": "object",
                "properties": properties,
                "additionalProperties": False,
                **({"required": model["required"]} if model["required"] else {}),
            }
        return {"$ref": f"#/$defs/{kind}"}

    def core(self, kind: str) -> str:
        name = "io.k8s.api.core.v1." + kind.removeprefix("V1")
        if match := re.fullmatch(r"K8sIoApi([A-Z][a-z]+)(V\d+(?:[AB][a-z]+\d+)?)(\w+)", kind):
            name = f"io.k8s.api.{match[1].lower()}.{match[2].lower()}.{match[3]}"
        if name not in self.kubernetes:
            raise SystemExit(f"no Kubernetes definition for the SDK type {kind}")
        return name

    def reference(self, name: str) -> dict:
        if name not in self.defs:
            self.defs[name] = {}
            self.defs[name] = self.copy(self.kubernetes[name])
        return {"$ref": f"#/$defs/{name}"}

    def copy(self, node):
        if isinstance(node, list):
            return [self.copy(item) for item in node]
        if not isinstance(node, dict):
            return node
        copied = {}
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                continue
            if key == "$ref":
                value = self.reference(value.rpartition("/")[2])["$ref"]
            copied[key] = self.copy(value)
        return copied


def main(sdk: Path, definitions: Path) -> None:
    kubernetes = json.loads(definitions.read_text())["$defs"]
    builder = Builder(sdk_models(sdk), kubernetes)
    spec = builder.schema("V1beta1InferenceServiceSpec")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "InferenceService serving.kserve.io/v1beta1",
        "type": "object",
        "properties": {
            "apiVersion": {"const": "serving.kserve.io/v1beta1"},
            "kind": {"const": "InferenceService"},
            "metadata": builder.schema("V1ObjectMeta"),
            "spec": spec,
            "status": {"type": "object"},
        },
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "$defs": dict(sorted(builder.defs.items())),
    }
    json.dump(schema, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
