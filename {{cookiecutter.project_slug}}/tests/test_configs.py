import json
import re
import typing
from pathlib import Path

import pytest
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.configs import ConfigError, PipelineConfig, load_config
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: A setting named like a credential: it must be a SecretStr, which never prints its value.
CREDENTIAL = re.compile(r"(^|_)(key|token|password|secret)$")


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


def secret_settings() -> list[str]:
    return [
        name
        for name, field in Settings.model_fields.items()
        if field.annotation is SecretStr or SecretStr in typing.get_args(field.annotation)
    ]


def test_credentials_are_secret_settings_whose_values_never_print(monkeypatch):
    values = {name: f"never-printed-{name}" for name in secret_settings()}
    for name, value in values.items():
        monkeypatch.setenv(f"{ENV_PREFIX}{name.upper()}", value)

    settings = Settings()
    shown = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        json.dumps(settings.model_dump(mode="json")),
    ]

    credentials = [name for name in Settings.model_fields if CREDENTIAL.search(name)]
    assert credentials == list(values), "a credential setting that is not a SecretStr"
    for name, value in values.items():
        assert getattr(settings, name).get_secret_value() == value  # read, then hidden
        assert not [text for text in shown if value in text], f"{name}'s value is printed"
