"""Check the default DVC remote before `dvc pull` or `dvc push`, with one line on what to do.

DVC's own errors for a missing remote are long or late (a pull from a folder that is not there
reports every file as missing). Checked here: a default remote is configured; for a pull from a
folder (the embedded default, ``../dvc-remote``), that the folder exists. Remotes in object
stores (s3://, gs://, azure://, ...) are left to DVC and its credentials.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from dvc.config import Config, ConfigError

Action = Literal["pull", "push"]


class RemoteError(RuntimeError):
    """The DVC remote cannot serve the action; the message says which remote and what to do."""


@dataclass(frozen=True)
class Remote:
    name: str
    #: A local folder as an absolute path (DVC resolves it from its config file), else a URL.
    url: str

    @property
    def is_folder(self) -> bool:
        scheme = urlsplit(self.url).scheme
        return scheme in ("", "file") or len(scheme) == 1  # a Windows drive letter: C:\...

    @property
    def folder(self) -> Path:
        return Path(urlsplit(self.url).path if self.url.startswith("file:") else self.url)


def default_remote(root: Path) -> Remote:
    """The project's default remote, as DVC reads it (project, local, global, system config)."""
    if not (root / ".dvc").is_dir():
        raise RemoteError(f"{root.resolve()} is not a DVC project (no .dvc folder): dvc init")
    try:
        config = Config(dvc_dir=str(root / ".dvc"))
    except ConfigError as error:
        raise RemoteError(f"DVC config: {' '.join(str(error).split())}") from error
    remotes = config.get("remote", {})
    name = config.get("core", {}).get("remote")
    if not name:
        known = f" ({', '.join(sorted(remotes))} configured, none the default)" if remotes else ""
        raise RemoteError(
            f"no default DVC remote{known}: add one with `dvc remote add -d <name> <folder or "
            "s3://bucket/path>`, or choose one with `dvc remote default <name>`"
        )
    if name not in remotes:
        raise RemoteError(
            f"the default DVC remote {name!r} is not configured: `dvc remote add {name} <url>`, "
            "or choose another with `dvc remote default <name>`"
        )
    return Remote(name, str(remotes[name]["url"]))


def check_remote(root: Path, action: Action) -> Remote:
    """The default remote if it can serve ``action``; RemoteError naming what to do if not."""
    remote = default_remote(root)
    if action == "pull" and remote.is_folder and not remote.folder.is_dir():
        raise RemoteError(
            f"DVC remote {remote.name!r} is the folder {remote.folder}, which does not exist: "
            "run `make push` where the data was made, or point the remote at the folder with "
            f"`dvc remote modify {remote.name} url <path>`"
        )
    return remote
