"""Load the model to serve, check it, and swap it in atomically; a failed load changes nothing.

The model comes from the registry (``models:/<name>@<alias>``, or a version number) or from a
folder written by ``export``. Before it answers a request it must pass a self-check: every score
is a probability, and the compiled scorer is used only where it agrees with the model's own
``predict_proba`` on contract rows.
"""

import asyncio
import gc
import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from starlette.concurrency import run_in_threadpool

from ..core.scoring import CustomerArrays, PipelineScorer, max_difference, scorer_for
from ..core.synthetic import generate_customers
from ..core.validation import validate_customers
from ..io import tracking
from ..settings import Settings
from .errors import ApiError

log = logging.getLogger(__name__)
#: The export command writes the registry entry here, beside the model files.
ENTRY_FILE = tracking.ENTRY_FILE
SELF_CHECK_ROWS = 256
#: float32 models (PyTorch) agree with numpy to ~1e-7; the baseline to ~1e-15.
TOLERANCE = 1e-5


class ModelLoadError(RuntimeError):
    """The model could not be loaded or failed its self-check; the message says which."""


@dataclass(frozen=True)
class ServedModel:
    scorer: object
    name: str
    version: str
    alias: str
    run_id: str
    data_md5: str
    source: str
    loaded_at: str
    #: Largest gap between the compiled scorer and the model's own scores in the self-check.
    self_check_difference: float

    def describe(self) -> dict:
        about = asdict(self)
        about["scorer"] = about.pop("scorer").kind
        return about


def load(settings: Settings, alias: str | None = None, version: str | None = None) -> ServedModel:
    """Load, compile and self-check a model; raise ModelLoadError for any failure."""
    try:
        if settings.serve_model_dir is not None and alias is None and version is None:
            entry = _exported_entry(settings.serve_model_dir)
            # Checked against the digest the export recorded: a changed file is refused.
            model = tracking.load_exported(settings.serve_model_dir, entry.get("model_sha256", ""))
            source = str(settings.serve_model_dir)
        else:
            model, registered = tracking.load_version(
                settings, alias or settings.serve_alias, version
            )
            entry, source = registered.to_dict(), "registry"
        scorer, difference = checked_scorer(model)
    # A broken artifact fails in any library's way (zip, skops, pickle): all of them refuse.
    except Exception as error:
        raise ModelLoadError(f"{type(error).__name__}: {error}") from error
    return ServedModel(
        scorer=scorer,
        name=entry["name"],
        version=str(entry["version"]),
        alias=entry.get("alias", ""),
        run_id=entry.get("run_id", ""),
        data_md5=entry.get("data_md5", ""),
        source=source,
        loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        self_check_difference=difference,
    )


def checked_scorer(model):
    """The compiled scorer if it agrees with the model on seeded contract rows, else the model
    itself (slower, never wrong); ValueError when the model's scores are not probabilities."""
    raw = generate_customers(SELF_CHECK_ROWS, np.random.default_rng(0)).astype(str)
    rows = validate_customers(raw).valid
    scorer = scorer_for(model)
    difference = max_difference(scorer, model, rows)
    if not difference <= TOLERANCE:  # NaN included
        log.warning("compiled scoring differs by %.3g: serving the model as it is", difference)
        scorer, difference = PipelineScorer(model), 0.0
    scores = scorer.score(CustomerArrays.from_frame(rows))
    if not np.all(np.isfinite(scores)) or scores.min() < 0.0 or scores.max() > 1.0:
        raise ValueError("self-check: the model gives scores outside [0, 1]")
    return scorer, difference


def _exported_entry(folder: Path) -> dict:
    return json.loads((folder / ENTRY_FILE).read_text(encoding="utf-8"))


def settle_memory() -> None:
    """Collect what the last load left behind, then freeze every live object.

    The libraries and the model are millions of long-lived objects; without the freeze, each
    full garbage collection scans them all again and stalls a request for ~250 ms (p99 of the
    1,000-row benchmark: 240-300 ms without, ~5 ms with). A reload unfreezes first, so the old
    model's cycles are still collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ModelSlot:
    """The model in service. Requests read ``current`` once, so a swap never splits one."""

    def __init__(self, settings: Settings, metrics):
        self.settings, self.metrics = settings, metrics
        self.current: ServedModel | None = None
        self.problem = "the model is loading"
        self._loading = asyncio.Lock()

    def serving(self) -> ServedModel:
        if self.current is None:
            raise ApiError(503, "model_not_ready", f"no model is being served: {self.problem}")
        return self.current

    async def load(self, alias: str | None = None, version: str | None = None) -> ServedModel:
        """Load in a worker thread, then swap; while one load runs, another is refused."""
        if self._loading.locked():
            raise ApiError(409, "reload_in_progress", "a model is loading; try again shortly")
        async with self._loading:
            try:
                candidate = await run_in_threadpool(load, self.settings, alias, version)
            except ModelLoadError as error:
                self.metrics.reloads["refused"] += 1
                if self.current is None:
                    self.problem = str(error)
                log.error("model load refused: %s", error)
                raise
            self.current = candidate
            settle_memory()
            self.metrics.reloads["loaded"] += 1
            about = candidate.describe()
            self.metrics.model = {k: about[k] for k in ("name", "version", "alias", "scorer")}
            log.info(
                "serving %s version %s (%s)", candidate.name, candidate.version, candidate.source
            )
            return candidate
