"""The layer manifest is coherent with cookiecutter.json and with the files in the template."""

import json

from conftest import MANIFEST, TEMPLATE, layer_manifest, template_files

LAYERS = MANIFEST["layers"]


def test_every_layer_has_a_switch_that_defaults_to_the_stage():
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text())

    for layer in LAYERS:
        assert context[layer_manifest.switch_name(layer)] == ["auto", "on", "off"]
    switches = {key for key in context if key.startswith("layer_")}
    assert switches == {layer_manifest.switch_name(layer) for layer in LAYERS}


def test_stages_are_cumulative_and_name_known_layers():
    previous: set[str] = set()
    for stage in ("1", "2", "3", "4"):
        layers = set(MANIFEST["stages"][stage]["layers"])
        assert layers <= set(LAYERS)
        assert previous <= layers
        previous = layers
    assert previous == set(LAYERS)


def test_requirements_name_known_layers_and_hold_within_each_stage():
    for spec in LAYERS.values():
        assert set(spec["requires"]) <= set(LAYERS)
    for stage in MANIFEST["stages"].values():
        assert layer_manifest.missing_requirements(MANIFEST, stage["layers"]) == {}


def test_built_layers_own_existing_files_and_unbuilt_layers_own_nothing():
    files = template_files()
    for name, spec in LAYERS.items():
        if not spec["built"]:
            assert spec["paths"] == [], f"{name} is not built but owns paths"
            continue
        for path in spec["paths"]:
            owned = [f for f in files if layer_manifest.covers(path, f)]
            assert owned, f"{name} owns {path}, which is not in the template"


def test_no_file_is_owned_by_two_layers():
    for path in template_files():
        owners = [
            name
            for name, spec in LAYERS.items()
            for owned in spec["paths"]
            if layer_manifest.covers(owned, path)
        ]
        assert len(owners) <= 1, f"{path} is owned by {owners}"


def test_path_requirements_name_own_existing_paths_and_other_layers():
    files = template_files()
    for name, spec in LAYERS.items():
        for path, also in spec.get("path_requires", {}).items():
            assert any(layer_manifest.covers(own, path) for own in spec["paths"]), (name, path)
            assert any(layer_manifest.covers(path, f) for f in files), f"{path}: no such file"
            assert set(also) <= set(LAYERS) - {name}, (name, path, also)


def test_stage_one_is_fully_built():
    assert layer_manifest.unbuilt(MANIFEST, MANIFEST["stages"]["1"]["layers"]) == []


def test_every_choice_is_an_answer_with_the_same_options_and_a_layer():
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text())

    for key, spec in MANIFEST["choices"].items():
        assert context[key] == list(spec["options"]), key
        assert spec["layer"] in LAYERS, key
        assert key in context["__prompts__"], key


def test_path_choices_name_own_existing_paths_and_known_answers():
    files = template_files()
    choices = MANIFEST["choices"]
    for name, spec in LAYERS.items():
        for path, conditions in spec.get("path_choices", {}).items():
            assert any(layer_manifest.covers(own, path) for own in spec["paths"]), (name, path)
            assert any(layer_manifest.covers(path, f) for f in files), f"{path}: no such file"
            for key, answers in conditions.items():
                assert answers, (path, key)
                assert set(answers) <= set(choices[key]["options"]), (path, key)


def test_a_choice_keeps_exactly_its_own_variant_of_a_path():
    layers = MANIFEST["stages"]["4"]["layers"]
    for name, spec in LAYERS.items():
        for path, conditions in spec.get("path_choices", {}).items():
            for key, answers in conditions.items():
                for option in MANIFEST["choices"][key]["options"]:
                    kept = layer_manifest.included(MANIFEST, path, layers, {key: option})
                    assert kept == (option in answers), (name, path, key, option)
