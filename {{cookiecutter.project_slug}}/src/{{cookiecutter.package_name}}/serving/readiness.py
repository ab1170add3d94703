"""Whether the server can answer predictions: a model loaded, and its logs writable."""

from pathlib import Path
from typing import Any

from ..io import probes
from ..settings import ENV_PREFIX


def not_ready(state: Any) -> str | None:
    """Why the server (``app.state``) cannot answer predictions now; None when it can."""
    if state.slot.current is None:
        return state.slot.problem
    return "; ".join(unwritable_logs(state.log_folders)) or None


def unwritable_logs(folders: dict[str, Path]) -> list[str]:
    """What keeps each log folder (by the setting naming it) from taking a write: a read-only
    or foreign parent, and the setting that moves it. Checked on every call, so a volume that
    is mounted or fixed later makes the server ready without a restart."""
    return [
        f"{folder.absolute()} cannot be written ({refusing.absolute()} refuses it): mount a "
        f"writable volume there or set {ENV_PREFIX}{setting.upper()}"
        for setting, folder in folders.items()
        if (refusing := probes.unwritable(folder)) is not None
    ]
