from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.configs import ConfigError, PipelineConfig, load_config
from {{ cookiecutter.package_name }}.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_shipped_config_is_valid_and_matches_the_defaults():
    assert load_config(PROJECT_ROOT / "configs" / "pipeline.yaml") == PipelineConfig()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("synthetic:\n  rowz: 10\n", "synthetic.rowz: Extra inputs are not permitted"),
        ("synthetic:\n  drift: 3\n", "synthetic.drift: Input should be less than or equal to 1"),
        ("model:\n  kind: svm\n", "model.kind: Input should be"),
        ("split: [1, 2]\n", "split: Input should be"),
    ],
)
def test_bad_config_names_the_field(tmp_path, yaml_text, message):
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)

    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(path)


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("{{ cookiecutter.package_name|upper }}_DATA_DIR", str(tmp_path))

    settings = Settings()

    assert settings.raw_table == tmp_path / "raw" / f"customers.{settings.table_format}"
