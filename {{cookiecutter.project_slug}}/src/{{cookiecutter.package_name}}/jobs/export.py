"""Copy a registered model out of the registry, for a server that runs without one."""

from pathlib import Path

from ..io import tracking
from ..io.datasets import write_json
from ..serving.loader import ENTRY_FILE
from ..settings import Settings


def run(settings: Settings, alias: str, destination: Path) -> tracking.RegisteredModel:
    """Write the version behind ``alias`` (MLmodel, weights, code) and its registry entry."""
    entry = tracking.export_model(settings, alias, destination)
    write_json(entry.to_dict(), destination / ENTRY_FILE)
    return entry
