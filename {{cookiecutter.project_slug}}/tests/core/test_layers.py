"""The template's layers as the doctor lists them: make targets, and how to add a layer."""

from {{ cookiecutter.package_name }}.core import layers


def test_choice_targets_follow_the_answers():
    airflow, kubeflow = {"orchestrator": "airflow"}, {"orchestrator": "kubeflow"}

    assert layers.commands("orchestration", kubeflow) == ("kfp-setup", "kfp-compile")
    assert "airflow-test" in layers.commands("orchestration", airflow)
    assert layers.commands("continuous_training", airflow) == ("promote", "ct", "airflow-monitor")
    assert layers.commands("continuous_training", kubeflow) == ("promote", "ct")
    assert "ml-bom" in layers.commands("governance", {"governance_export": "cyclonedx"})
    assert "ml-bom" not in layers.commands("governance", {"governance_export": "none"})


def test_absent_layers_in_the_template_order():
    present = ["governance", "notebook", "tracking"]

    absent = layers.absent(present)

    assert absent == [
        "data",
        "orchestration",
        "training",
        "serving",
        "scale",
        "cicd",
        "infra",
        "monitoring",
        "continuous_training",
    ]


def test_adding_a_layer_adds_the_absent_layers_it_needs():
    assert layers.how_to_add("serving", ["notebook"], "1", {}) == (
        "make upgrade LAYERS=tracking,serving (or STAGE=3)"
    )
    stage2 = ["notebook", "data", "tracking", "orchestration"]
    assert layers.how_to_add("continuous_training", stage2, "2", {}) == (
        "make upgrade LAYERS=monitoring,continuous_training (or STAGE=4)"
    )


def test_a_layer_switched_off_below_the_stage_is_added_by_name_only():
    # Moving to its stage would not add it: the recorded answer keeps it off.
    hint = layers.how_to_add("data", ["notebook", "tracking"], "2", {"layer_data": "off"})

    assert hint == "make upgrade LAYERS=data"


def test_a_needed_layer_answered_off_is_added_by_name_only():
    # STAGE=3 would keep layer_tracking=off, and the hook refuses serving without tracking.
    answers = {"layer_tracking": "off"}

    hint = layers.how_to_add("serving", ["notebook", "data"], "2", answers)

    assert hint == "make upgrade LAYERS=tracking,serving"


def test_describe_lists_targets_of_present_layers_and_how_to_add_absent_ones():
    lines = layers.describe("2", ["notebook", "tracking"], {})

    assert lines[0].startswith(f"layers: 2 of {len(layers.LAYERS)}")
    assert any("+ tracking" in line and "register, mlflow-ui" in line for line in lines)
    assert any("- training" in line for line in lines)
    assert any("add: make upgrade LAYERS=training (or STAGE=3)" in line for line in lines)
