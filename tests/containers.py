"""A Docker engine, and stand-ins for the registry images a generated project's files name.

No container registry answers on this machine (README, "Containers in the tests"), so each base
image a Dockerfile names is built here from Debian bookworm's packages with mmdebstrap, carrying
this machine's CA bundle (registry traffic is TLS-intercepted, also for pip inside a build), and
tagged with the exact upstream name: the generated files keep their real images. A stand-in says
what it is in its image comment (``docker image inspect``) and in the tests' output.

    python tests/containers.py PROJECT   # start dockerd if none answers; build its stand-ins
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: dockerd as DEVELOPERS.md gives it: no iptables here (no NAT; builds use --network host).
DOCKERD = ["dockerd", "--storage-driver=overlay2", "--iptables=false"]
DOCKERD_LOG = Path("/tmp/dockerd-tests.log")
#: Only guards against a hang: dockerd answers within seconds.
ENGINE_START_SECONDS = 120
STANDIN_MARK = "stand-in"


@dataclass(frozen=True)
class StandIn:
    """A registry image rebuilt from Debian packages: ``hooks`` finish the tree (mmdebstrap
    customize hooks, ``$1`` is its root), ``changes`` are ``docker import --change`` lines."""

    image: str
    packages: tuple[str, ...]
    what: str
    hooks: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()


def python_slim(image: str) -> StandIn:
    """``python:<patch>-slim-bookworm``: Debian's own Python 3.11 as ``python`` with venv,
    pip (in the venvs it makes) trusting this machine's CA bundle."""
    return StandIn(
        image,
        packages=("python3", "python3-venv", "ca-certificates"),
        what=f"Debian bookworm's python3 (3.11) standing in for {image}",
        hooks=('chroot "$1" ln -s /usr/bin/python3 /usr/local/bin/python',),
        changes=(
            f"ENV PIP_CERT={CA_BUNDLE} SSL_CERT_FILE={CA_BUNDLE}",
            'CMD ["python3"]',
        ),
    )


def docker(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, **kwargs)


def engine_answers() -> bool:
    return shutil.which("docker") is not None and docker("info", check=False).returncode == 0


def start_engine() -> subprocess.Popen | None:
    """Start dockerd when no engine answers; the process this started, or None when one ran.
    Raises RuntimeError saying what to do where it cannot (not root, no dockerd)."""
    if engine_answers():
        return None
    if shutil.which("dockerd") is None:
        raise RuntimeError("no Docker engine: apt-get install docker.io (make tools does)")
    if os.geteuid() != 0:
        raise RuntimeError(f"no Docker engine answers, and only root can start one: {DOCKERD}")
    with DOCKERD_LOG.open("ab") as log:
        process = subprocess.Popen(DOCKERD, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + ENGINE_START_SECONDS
    while not engine_answers():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"dockerd did not start; its log: {DOCKERD_LOG}")
        time.sleep(0.5)
    return process


def stop_engine(process: subprocess.Popen | None) -> None:
    """Stop a dockerd that start_engine started (SIGTERM: it stops its containers first)."""
    if process is not None:
        process.terminate()
        process.wait(timeout=ENGINE_START_SECONDS)


def describe(image: str) -> str:
    """A stand-in's image comment ("stand-in: ..."), or "the registry's image"."""
    comment = docker("image", "inspect", "--format", "{{.Comment}}", image).stdout.strip()
    return comment if comment.startswith(STANDIN_MARK) else "the registry's image"


def build_standin(standin: StandIn) -> bool:
    """Build ``standin`` under its upstream name unless an image has that name (a stand-in
    built before, or the registry's own where one answers); whether it built."""
    if docker("image", "inspect", standin.image, check=False).returncode == 0:
        return False
    hooks = [
        f"--customize-hook=copy-in {CA_BUNDLE} {CA_BUNDLE.parent}",  # after ca-certificates' own
        *(f"--customize-hook={hook}" for hook in standin.hooks),
        '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*',
    ]
    include = f"--include={','.join(standin.packages)}"
    changes = [arg for change in standin.changes for arg in ("--change", change)]
    comment = f"{STANDIN_MARK}: {standin.what} (mmdebstrap, tests/containers.py)"
    with tempfile.TemporaryFile() as log:  # mmdebstrap's progress: read back only on failure
        tree = subprocess.Popen(
            ["mmdebstrap", "--variant=apt", include, *hooks, "bookworm", "-"],
            stdout=subprocess.PIPE,
            stderr=log,
        )
        imported = subprocess.run(
            ["docker", "import", "--message", comment, *changes, "-", standin.image],
            stdin=tree.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        if tree.wait() != 0 or imported.returncode != 0:
            log.seek(0)
            said = log.read().decode(errors="replace")[-2000:] + imported.stderr[-2000:]
            raise RuntimeError(f"stand-in {standin.image} failed:\n{said}")
    return True


def base_images(project: Path) -> list[StandIn]:
    """The stand-ins a project's serving image needs (the base its Dockerfile names)."""
    dockerfile = (project / "docker" / "serving.Dockerfile").read_text()
    (default,) = [
        line.split("=", 1)[1]
        for line in dockerfile.splitlines()
        if line.startswith("ARG PYTHON_IMAGE=")
    ]
    return [python_slim(default)]


if __name__ == "__main__":
    started = start_engine()
    print("dockerd", "started" if started else "already running")
    for standin in base_images(Path(sys.argv[1])):
        built = build_standin(standin)
        print(f"{standin.image}: {'built' if built else 'present'} ({standin.what})")
