"""serving_runtime=kserve|seldon: the Kubernetes manifests serve the registered MLflow model.

kustomize (``kubectl kustomize``) renders each overlay; the InferenceService or Model must match
its CRD's schema, vendored in tests/validators/crds/ (README there: sources and versions),
made strict as ``kubectl apply --validate=strict`` is: an unknown field fails. check-jsonschema
(pinned in tests/validators/) does the check; every other object passes
``kubernetes-validate --strict``.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

import test_delivery
from conftest import bake_ok, expected_files, project_files, tool
from test_delivery import layers_of, run

validators = test_delivery.validators  # the pinned validators' bin folder (a fixture)

CRDS = Path(__file__).parent / "validators" / "crds"
#: runtime -> (answers, package, the kind it serves with)
RUNTIMES = {
    "kserve": (
        {"project_slug": "acme-retention", "package_name": "retention"},
        "retention",
        "InferenceService",
    ),
    "seldon": ({}, "customer_churn", "Model"),
}


def strict(node):
    """A CRD's openAPIV3Schema as a JSON schema that refuses fields it does not name."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: strict(value) for key, value in node.items()}
    closed = "additionalProperties" in schema or schema.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in schema and not closed:
        schema["additionalProperties"] = False
    return schema


def crd_schema(kind: str) -> dict:
    if kind == "InferenceService":
        return json.loads((CRDS / "serving.kserve.io_inferenceservice_v1beta1.json").read_text())
    crd = yaml.safe_load((CRDS / "mlops.seldon.io_models.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    return strict(version["schema"]["openAPIV3Schema"])


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory):
    """Each runtime baked once at stage 3; its file set is the manifest's."""
    made = {}
    for runtime, (names, package, _) in RUNTIMES.items():
        answers = {"maturity_stage": "3", "serving_runtime": runtime, **names}
        project = bake_ok(tmp_path_factory.mktemp(runtime) / "out", git_init="no", **answers)
        assert project_files(project) == expected_files(layers_of(answers), package, answers)
        made[runtime] = project
    return made


def rendered(project: Path, overlay: str) -> list[dict]:
    built = run([tool("kubectl"), "kustomize", str(project / "deploy/k8s/overlays" / overlay)])
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def schema_errors(validators: Path, schema: dict, document: dict, folder: Path) -> str:
    """check-jsonschema's report on ``document``; empty when it matches."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "schema.json").write_text(json.dumps(schema))
    (folder / "resource.json").write_text(json.dumps(document))
    checked = run(
        [
            validators / "check-jsonschema",
            "--schemafile",
            folder / "schema.json",
            folder / "resource.json",
        ]
    )
    return "" if checked.returncode == 0 else checked.stdout + checked.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlays_match_the_crd_and_kubernetes_schemas(
    runtimes, runtime, overlay, validators, tmp_path
):
    kind = RUNTIMES[runtime][2]
    documents = rendered(runtimes[runtime], overlay)
    served = [doc for doc in documents if doc["kind"] == kind]
    others = [doc for doc in documents if doc["kind"] != kind]

    assert len(served) == 1, [doc["kind"] for doc in documents]
    assert not schema_errors(validators, crd_schema(kind), served[0], tmp_path / "crd")
    assert not {"Deployment", "HorizontalPodAutoscaler", "Secret"} & {d["kind"] for d in others}
    if others:  # kserve's ServiceAccount
        (tmp_path / "others.yaml").write_text(yaml.safe_dump_all(others))
        checked = run(
            [validators / "kubernetes-validate", "--strict", "--quiet", tmp_path / "others.yaml"]
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def misspelt(kind: str, document: dict) -> dict:
    if kind == "InferenceService":
        model = document["spec"]["predictor"]["model"]
        model["storageURI"] = model.pop("storageUri")
    else:
        document["spec"]["requirement"] = document["spec"].pop("requirements")
    return document


def mistyped(kind: str, document: dict) -> dict:
    spec = document["spec"]["predictor"] if kind == "InferenceService" else document["spec"]
    spec["minReplicas"] = "two"
    return document


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("broken", [misspelt, mistyped])
def test_the_crd_check_fails_on_a_wrong_manifest(runtimes, runtime, broken, validators, tmp_path):
    kind = RUNTIMES[runtime][2]
    (document,) = [d for d in rendered(runtimes[runtime], "prod") if d["kind"] == kind]

    errors = schema_errors(validators, crd_schema(kind), broken(kind, document), tmp_path)

    assert errors
    assert re.search(r"storageURI|requirement|'two'", errors), errors


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_registered_model_is_served_under_its_own_name(runtimes, runtime):
    project = runtimes[runtime]
    package, kind = RUNTIMES[runtime][1:]
    settings = (project / "src" / package / "settings.py").read_text()
    registered = re.search(r'registered_model_name: str = "([^"]+)"', settings)[1]
    documents = rendered(project, "prod")
    (served,) = [doc for doc in documents if doc["kind"] == kind]

    assert registered == project.name  # the slug
    assert served["metadata"]["name"] == registered  # the V2 name: /v2/models/<name>/infer
    if kind == "InferenceService":
        predictor = served["spec"]["predictor"]
        assert predictor["model"]["modelFormat"]["name"] == "mlflow"
        assert predictor["model"]["protocolVersion"] == "v2"
        storage = predictor["model"]["storageUri"]
        accounts = {d["metadata"]["name"] for d in documents if d["kind"] == "ServiceAccount"}
        assert predictor["serviceAccountName"] in accounts
        assert (predictor["minReplicas"], predictor["maxReplicas"]) == (3, 12)
    else:
        assert served["spec"]["requirements"] == ["mlflow"]
        storage = served["spec"]["storageUri"]
        assert (served["spec"]["minReplicas"], served["spec"]["maxReplicas"]) == (3, 12)
    assert re.fullmatch(rf"(s3|gs)://[\w.-]+/{registered}/champion", storage)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_fastapi_server_and_its_v2_routes_stay(runtimes, runtime):
    project = runtimes[runtime]
    package = RUNTIMES[runtime][1]
    routes = (project / "src" / package / "serving/routes/compat.py").read_text()
    deploy = (project / ".github/workflows/deploy.yml").read_text()

    assert '@router.post("/v2/models/{name}/infer"' in routes
    assert not (project / "deploy/k8s/base/deployment.yaml").exists()
    assert "kustomize edit set image" not in deploy
    assert f"--for=condition=Ready {RUNTIMES[runtime][2].lower()}/{project.name}" in deploy


#: Texts of the FastAPI Deployment that must not describe a KServe or Seldon deploy:
#: file -> phrases. Each is asserted present in a fastapi bake first, so a reworded phrase
#: fails here instead of passing for want of a match.
FASTAPI_ONLY = {
    "README.md": [
        "a Deployment with readiness on `/ready`",
        "pin it by digest",  # deploy.yml's row
        "the serving image pinned by digest",  # the Jenkinsfile's Deploy row
        "wait for the rollout (undone if it fails)",
        "kubectl rollout restart",  # a new champion, in continuous training's section
    ],
    "deploy/k8s/README.md": ["/admin/reload", "rollout status", "pins it in the prod overlay"],
    "deploy/k8s/overlays/prod/kustomization.yaml": ["across zones"],
}


@pytest.fixture(scope="module")
def stage4_bakes(tmp_path_factory):
    """Stage 4 with both CI systems (both Deploy rows), each runtime beside a fastapi bake of
    the same orchestrator (continuous training's text differs by orchestrator)."""
    made = {}
    for runtime, orchestrator in [
        ("fastapi", "airflow"),
        ("fastapi", "kubeflow"),
        ("kserve", "airflow"),
        ("seldon", "kubeflow"),
    ]:
        answers = {"serving_runtime": runtime, "orchestrator": orchestrator}
        out = tmp_path_factory.mktemp(f"{runtime}-{orchestrator}") / "out"
        made[runtime, orchestrator] = bake_ok(
            out, git_init="no", maturity_stage="4", ci_system="both", **answers
        )
    return made


@pytest.mark.parametrize(
    ("runtime", "orchestrator"), [("kserve", "airflow"), ("seldon", "kubeflow")]
)
def test_the_docs_describe_the_runtime_not_the_fastapi_deployment(
    stage4_bakes, runtime, orchestrator
):
    fastapi = stage4_bakes["fastapi", orchestrator]
    project = stage4_bakes[runtime, orchestrator]
    kind = RUNTIMES[runtime][2]

    for path, phrases in FASTAPI_ONLY.items():
        for phrase in phrases:
            assert phrase in (fastapi / path).read_text(), (path, phrase)
            assert phrase not in (project / path).read_text(), (path, phrase)
    readme = (project / "README.md").read_text()
    assert f"wait until the {kind} is Ready (its model loaded)" in readme
    assert "a new champion\nis served once `storageUri` names it" in readme
    assert "Jenkinsfile's Deploy stage" in (project / "deploy/k8s/README.md").read_text()
