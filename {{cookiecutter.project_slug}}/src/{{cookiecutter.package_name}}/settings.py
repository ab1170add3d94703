"""Settings for *where* things live (folders, files, later URIs and secrets).

Read from the environment (prefix {{ cookiecutter.package_name|upper }}_) and from a .env file;
what the jobs do lives in the typed configs instead.
"""

from pathlib import Path
from typing import Literal

{% if cookiecutter|layer_enabled("serving") -%}
from pydantic import Field, SecretStr, field_validator
{% elif cookiecutter|layer_enabled("tracking") -%}
from pydantic import Field
{% endif -%}
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "{{ cookiecutter.package_name|upper }}_"


class Settings(BaseSettings):
    """Locations used by the jobs; every field can be set as ``<PREFIX><FIELD>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    config_path: Path = Path("configs/pipeline.yaml")
    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")
    #: Your own CSV in the Telco schema; when unset, the main job generates synthetic data.
    input_csv: Path | None = None
    #: File format of the raw, train and test tables: parquet is columnar, compressed and read
    #: in chunks (the scale layer); csv opens anywhere.
    table_format: Literal["csv", "parquet"] = "{% if cookiecutter|layer_enabled("scale") %}parquet{% else %}csv{% endif %}"
{%- if cookiecutter|layer_enabled("tracking") %}

    #: MLflow tracking server, e.g. http://127.0.0.1:5000 (MLFLOW_TRACKING_URI works too).
    #: Unset: SQLite and an artifact folder under ``mlflow_dir`` (zero services).
    tracking_uri: str | None = None
    mlflow_dir: Path = Path("mlflow")
    experiment_name: str = "{{ cookiecutter.project_slug }}"
    #: The registry name: serving and promotion load ``models:/<name>@champion``.
    registered_model_name: str = "{{ cookiecutter.project_slug }}"
    #: A server that does not answer is asked again this many times, after tracking_backoff_s,
    #: then twice that, ...; then the command fails. MLflow's own retries of each request
    #: (MLFLOW_HTTP_REQUEST_*) follow these too, unless set.
    tracking_retries: int = Field(3, ge=0, le=10)
    tracking_backoff_s: float = Field(0.5, ge=0.0)
    #: Seconds to wait for the server to connect, then for each read of a response.
    tracking_timeout_s: float = Field(30.0, gt=0.0)
{%- endif %}
{%- if cookiecutter|layer_enabled("serving") %}

    #: The prediction server serves ``models:/<registered_model_name>@<serve_alias>`` ...
    serve_alias: str = "champion"
    #: ... unless this names a copy made by `export` (offline: no registry needed).
    serve_model_dir: Path | None = None
    #: When set, prediction routes need the header ``X-API-Key: <key>``.
    serve_api_key: SecretStr | None = None
    #: Admin routes (reload) need ``Authorization: Bearer <token>``; unset, they are disabled.
    serve_admin_token: SecretStr | None = None
    serve_max_batch_rows: int = Field(10_000, gt=0)
    serve_max_body_bytes: int = Field(8 * 2**20, gt=0)
    #: One JSON line per prediction, for monitoring; rotated by size and by day.
    prediction_log_dir: Path | None = Path("logs/predictions")
    prediction_log_max_bytes: int = Field(100 * 2**20, gt=0)

    @field_validator("prediction_log_dir", mode="before")
    @classmethod
    def _empty_is_off(cls, value):
        return None if value == "" else value  # PREDICTION_LOG_DIR= turns the log off
{%- if cookiecutter|layer_enabled("continuous_training") %}

    #: The running prediction server, e.g. http://127.0.0.1:8000: after a promotion it is told
    #: to reload @champion (with serve_admin_token). Unset: no server is told.
    serve_url: str | None = Field(None, pattern=r"^https?://")
{%- endif %}
{%- endif %}
{%- if cookiecutter|layer_enabled("governance") %}

    #: The tamper-evident audit log ({% if cookiecutter|layer_enabled("serving") %}predictions, {% endif %}promotion decisions): hash-chained JSON lines.
    audit_log_dir: Path = Path("logs/audit")
    #: Days of audit files that `audit prune` keeps (whole files, UTC days); unset: all.
    audit_retention_days: int | None = None
    #: fsync each audit append before it returns: a prediction is acknowledged once on disk.
    audit_durable: bool = False
    #: Digest of the container image the jobs run in, recorded in each version's lineage; the
    #: image build or deployment sets it (e.g. sha256:...); empty outside a container.
    image_digest: str = ""
{%- endif %}

    @property
    def raw_table(self) -> Path:
        return self.data_dir / "raw" / f"customers.{self.table_format}"

    @property
    def quarantine_csv(self) -> Path:
        return self.data_dir / "quarantine" / "rejected.csv"

    @property
    def train_table(self) -> Path:
        return self.data_dir / "processed" / f"train.{self.table_format}"

    @property
    def test_table(self) -> Path:
        return self.data_dir / "processed" / f"test.{self.table_format}"

    @property
    def model_file(self) -> Path:
        return self.models_dir / "model.joblib"

    @property
    def metrics_json(self) -> Path:
        return self.reports_dir / "metrics.json"

    @property
    def figures_dir(self) -> Path:
        return self.reports_dir / "figures"
{%- if cookiecutter|layer_enabled("tracking") %}

    @property
    def registered_json(self) -> Path:
        return self.reports_dir / "registered.json"
{%- endif %}
