"""A Docker engine, and stand-ins for the registry images a generated project's files name.

No container registry answers on this machine (README, "Containers in the tests"), so each image
a Dockerfile or compose.yaml names is built here from Debian bookworm's packages with mmdebstrap
(and PyPI, where Debian has no such server), carrying this machine's CA bundle (registry traffic
is TLS-intercepted, also for pip inside a build), and tagged with the exact upstream name: the
generated files keep their real images. A stand-in says what it is in its image comment
(``docker image inspect``) and in the tests' output. The scripts that play an image's
entrypoint or tools are in tests/standins/.

    python tests/containers.py PROJECT   # start dockerd if none answers; build its stand-ins
"""

import functools
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.request import Request, urlopen

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SCRIPTS = Path(__file__).parent / "standins"
#: dockerd as DEVELOPERS.md gives it: it leaves iptables alone.
DOCKERD = ["dockerd", "--storage-driver=overlay2", "--iptables=false"]
#: So the one NAT rule dockerd would add is added here: containers on its bridge networks (the
#: default one, compose's) reach the package registries, as builds and stacks expect.
NAT_RULE = ["POSTROUTING", "-s", "172.16.0.0/12", "!", "-d", "172.16.0.0/12", "-j", "MASQUERADE"]
DOCKERD_LOG = Path("/tmp/dockerd-tests.log")
#: Only guards against a hang: dockerd answers within seconds.
ENGINE_START_SECONDS = 120
STANDIN_MARK = "stand-in"
#: Where pip finds the local CPU torch wheel (pip config list); the stand-in for PyTorch's index.
WHEELS_SETTING = "global.find-links"
#: The docker0 bridge's address on the host: builds and containers reach the host there.
HOST_FROM_CONTAINERS = "172.17.0.1"


@dataclass(frozen=True)
class StandIn:
    """A registry image rebuilt from Debian ``packages``: ``scripts`` (image path: file in
    tests/standins) are copied in, ``prepare`` may write more into the same overlay folder,
    ``hooks`` finish the tree (mmdebstrap customize hooks, ``$1`` is its root), ``changes`` are
    ``docker import --change`` lines; ``also`` are more names for the same image."""

    image: str
    packages: tuple[str, ...]
    what: str
    scripts: tuple[tuple[str, str], ...] = ()
    prepare: Callable[[Path], None] | None = None
    hooks: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    also: tuple[str, ...] = ()


PYTHON = ("python3", "python3-venv")
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Installs inside a stand-in's tree see none of this process's settings (make's UV_FIND_LINKS).
CLEAN_ENV = f"env -i HOME=/root PATH={DEBIAN_PATH}"
PYTHON_LINK = 'chroot "$1" ln -s /usr/bin/python3 /usr/local/bin/python'
TRUST = f"ENV PIP_CERT={CA_BUNDLE} SSL_CERT_FILE={CA_BUNDLE}"


def python_slim(image: str) -> StandIn:
    """``python:<patch>-slim-bookworm``: Debian's own Python 3.11 as ``python`` with venv,
    pip (in the venvs it makes) trusting this machine's CA bundle."""
    return StandIn(
        image,
        PYTHON,
        f"Debian bookworm's python3 (3.11) standing in for {image}",
        hooks=(PYTHON_LINK,),
        changes=(TRUST, 'CMD ["python3"]'),
    )


def postgres(image: str) -> StandIn:
    """``postgres:<version>``: Debian's PostgreSQL 15, its entrypoint's first-start settings."""
    return StandIn(
        image,
        ("postgresql-15",),
        f"Debian bookworm's PostgreSQL 15 standing in for {image}",
        scripts=(("/usr/local/bin/docker-entrypoint.sh", "postgres-entrypoint.sh"),),
        changes=(
            f"ENV PATH=/usr/lib/postgresql/15/bin:{DEBIAN_PATH}",
            'ENTRYPOINT ["docker-entrypoint.sh"]',
            'CMD ["postgres"]',
            "VOLUME /var/lib/postgresql/data",
        ),
    )


def redis(image: str) -> StandIn:
    """``redis:<version>``: Debian's Redis 7.0, open to its network as the image is."""
    return StandIn(
        image,
        ("redis-server",),
        f"Debian bookworm's Redis 7.0 standing in for {image}",
        changes=('CMD ["redis-server", "--protected-mode", "no"]',),
    )


MOTO = "moto[server]==5.2.6"


def s3(server: str, client: str) -> StandIn:
    """``minio/minio`` and ``minio/mc``: moto's S3 server (Debian has no S3 server), and an
    ``mc`` for the commands compose.yaml runs."""
    install = f'chroot "$1" python3 -m venv /opt/s3 && chroot "$1" {CLEAN_ENV} '
    install += f"PIP_CERT={CA_BUNDLE} /opt/s3/bin/pip install --no-cache-dir --quiet '{MOTO}'"
    return StandIn(
        server,
        PYTHON,
        f"moto's S3 server ({MOTO}; objects in memory) standing in for {server} and {client}",
        scripts=(("/usr/local/bin/minio", "minio"), ("/usr/local/bin/mc", "mc")),
        hooks=(install,),
        changes=('ENTRYPOINT ["minio"]',),
        also=(client,),
    )


PYPI = "https://pypi.org/simple"  # the JSON API is not reachable here
UV_WHEEL = "manylinux_2_17_x86_64"
TLS = ssl.create_default_context(cafile=CA_BUNDLE)


def uv(image: str) -> StandIn:
    """``ghcr.io/astral-sh/uv:<version>``: that uv's binary from its PyPI wheel, at /uv."""
    version = image.rsplit(":", 1)[1]

    def binary(overlay: Path) -> None:
        index = Request(f"{PYPI}/uv/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        files = json.load(urlopen(index, context=TLS, timeout=60))["files"]
        name = f"uv-{version}-py3-none-{UV_WHEEL}"
        (wheel,) = [file["url"] for file in files if file["filename"].startswith(name)]
        with tempfile.TemporaryFile() as file:
            shutil.copyfileobj(urlopen(wheel, context=TLS, timeout=60), file)
            with zipfile.ZipFile(file) as archive:
                (overlay / "uv").write_bytes(archive.read(f"uv-{version}.data/scripts/uv"))
        (overlay / "uv").chmod(0o755)

    return StandIn(
        image,
        (),  # ca-certificates only
        f"uv {version} from its PyPI wheel, at /uv, standing in for {image}",
        prepare=binary,
    )


def airflow(image: str, constraints: Path) -> StandIn:
    """``apache/airflow:<version>-python3.x``: that Airflow with the Celery and PostgreSQL
    providers in a venv on Debian's Python (within the project's Airflow lock), the image's
    user (uid 50000, group 0), AIRFLOW_HOME and entrypoint."""
    version = image.rsplit(":", 1)[1].split("-")[0]
    spec = f"apache-airflow[celery,postgres]=={version}"
    install = f'chroot "$1" python3 -m venv /opt/airflow-venv && chroot "$1" {CLEAN_ENV} '
    install += f"SSL_CERT_FILE={CA_BUNDLE} /tmp/uv pip install --no-cache --quiet "
    install += f'--python /opt/airflow-venv/bin/python -c /tmp/constraints.txt "{spec}"'
    home = '"$1"/opt/airflow'
    return StandIn(
        image,
        (*PYTHON, "curl"),
        f"{spec} on Debian bookworm's python3 (3.11) standing in for {image}",
        scripts=(("/entrypoint", "airflow-entrypoint"),),
        prepare=lambda overlay: shutil.copy(constraints, overlay / "tmp" / "constraints.txt"),
        hooks=(
            f"upload {shutil.which('uv') or Path(sys.executable).with_name('uv')} /tmp/uv",
            'chmod +x "$1"/tmp/uv',
            install,
            'rm "$1"/tmp/uv "$1"/tmp/constraints.txt',
            PYTHON_LINK,
            'chroot "$1" useradd --uid 50000 --gid 0 --create-home airflow',
            f"install -d -o 50000 -g 0 -m 775 {home} {home}/dags {home}/logs",
        ),
        changes=(
            TRUST,
            "ENV PATH=/opt/airflow-venv/bin:/usr/local/bin:/usr/bin:/bin AIRFLOW_HOME=/opt/airflow",
            f"ENV PIP_TRUSTED_HOST={HOST_FROM_CONTAINERS}",  # pip ignores plain-HTTP torch_index()
            "USER 50000",
            "WORKDIR /opt/airflow",
            'ENTRYPOINT ["/entrypoint"]',
            'CMD ["--help"]',
        ),
    )


def docker(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, **kwargs)


def engine_answers() -> bool:
    return shutil.which("docker") is not None and docker("info", check=False).returncode == 0


def start_engine() -> subprocess.Popen | None:
    """Start dockerd (and its NAT rule) when no engine answers; the process this started, or
    None when one ran. Raises RuntimeError saying what to do where it cannot."""
    if engine_answers():
        return None
    if shutil.which("dockerd") is None:
        raise RuntimeError("no Docker engine: apt-get install docker.io (make tools does)")
    if os.geteuid() != 0:
        raise RuntimeError(f"no Docker engine answers, and only root can start one: {DOCKERD}")
    if subprocess.run(["iptables", "-t", "nat", "-C", *NAT_RULE], capture_output=True).returncode:
        subprocess.run(["iptables", "-t", "nat", "-A", *NAT_RULE], check=True)
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
        subprocess.run(["iptables", "-t", "nat", "-D", *NAT_RULE], check=False)


def describe(image: str) -> str:
    """A stand-in's image comment ("stand-in: ..."), or "the registry's image"."""
    comment = docker("image", "inspect", "--format", "{{.Comment}}", image).stdout.strip()
    return comment if comment.startswith(STANDIN_MARK) else "the registry's image"


def build_standin(standin: StandIn) -> bool:
    """Build ``standin`` under its upstream names unless an image has the first (a stand-in
    built before, or the registry's own where one answers); whether it built."""
    if docker("image", "inspect", standin.image, check=False).returncode == 0:
        return False
    with tempfile.TemporaryDirectory() as overlay, tempfile.TemporaryFile() as log:
        for target, script in standin.scripts:
            (Path(overlay) / target.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(SCRIPTS / script, Path(overlay) / target.lstrip("/"))
        (Path(overlay) / "tmp").mkdir(exist_ok=True)
        (Path(overlay) / "tmp").chmod(0o1777)  # sync-in copies modes: /tmp stays everyone's
        if standin.prepare:
            standin.prepare(Path(overlay))
        hooks = [
            f"--customize-hook=copy-in {CA_BUNDLE} {CA_BUNDLE.parent}",  # after the package's
            f"--customize-hook=sync-in {overlay} /",
            *(f"--customize-hook={hook}" for hook in standin.hooks),
            '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*',
        ]
        packages = f"--include={','.join(('ca-certificates', *standin.packages))}"
        changes = [arg for change in standin.changes for arg in ("--change", change)]
        comment = f"{STANDIN_MARK}: {standin.what} (tests/containers.py)"
        tree = subprocess.Popen(  # mmdebstrap's progress: read back only on failure
            ["mmdebstrap", "--variant=apt", packages, *hooks, "bookworm", "-"],
            stdout=subprocess.PIPE,
            stderr=log,
        )
        imported = subprocess.run(  # untagged: a failed tree must not leave an image named
            ["docker", "import", "--message", comment, *changes, "-"],
            stdin=tree.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        if tree.wait() != 0 or imported.returncode != 0:
            log.seek(0)
            said = log.read().decode(errors="replace")[-2000:] + imported.stderr[-2000:]
            raise RuntimeError(f"stand-in {standin.image} failed:\n{said}")
    for name in (standin.image, *standin.also):
        docker("tag", imported.stdout.strip(), name)
    return True


def default_arg(dockerfile: Path, name: str) -> str:
    """The default of ``ARG name=...`` in a Dockerfile."""
    (value,) = [
        line.split("=", 1)[1]
        for line in dockerfile.read_text().splitlines()
        if line.startswith(f"ARG {name}=")
    ]
    return value


def base_images(project: Path) -> list[StandIn]:
    """The stand-ins a project's serving image needs (the base its Dockerfile names)."""
    return [python_slim(default_arg(project / "docker" / "serving.Dockerfile", "PYTHON_IMAGE"))]


def registry_images(project: Path) -> set[str]:
    """The images a project's Dockerfiles (FROM, ARG *_IMAGE=) and compose.yaml (image:) name
    that it does not build itself."""
    named = set()
    for dockerfile in (project / "docker").glob("*.Dockerfile"):
        stages = set()  # FROM <an earlier stage> is no image
        for line in dockerfile.read_text().splitlines():
            words = line.split()
            if words[:1] == ["FROM"] and "$" not in words[1] and words[1] not in stages:
                named.add(words[1])
                stages.update(words[3:4])
            elif line.startswith("ARG ") and "_IMAGE=" in words[1]:
                named.add(words[1].split("=", 1)[1])
    for line in (project / "compose.yaml").read_text().splitlines():
        words = line.split()
        if words[:1] == ["image:"] and not words[1].startswith(project.name):
            named.add(words[1])
    return named


def stack_images(project: Path) -> list[StandIn]:
    """The stand-ins for every registry image a project's Dockerfiles and compose.yaml name,
    but the CUDA base: its training image is built on the Python base (a build argument)."""
    named = registry_images(project)
    standins = []
    for image in sorted(named):
        repository = image.rsplit(":", 1)[0]
        if repository == "python":
            standins.append(python_slim(image))
        elif repository == "postgres":
            standins.append(postgres(image))
        elif repository == "redis":
            standins.append(redis(image))
        elif repository == "minio/minio":
            client = next(other for other in named if other.startswith("minio/mc:"))
            standins.append(s3(image, client))
        elif repository == "ghcr.io/astral-sh/uv":
            standins.append(uv(image))
        elif repository == "apache/airflow":
            standins.append(airflow(image, project / "requirements/airflow-constraints.txt"))
        elif repository not in ("minio/mc", "nvidia/cuda"):
            raise ValueError(f"{image}: no stand-in for it in tests/containers.py")
    return standins


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def torch_index() -> Iterator[str]:
    """A package index holding the local CPU torch wheel (pip's find-links folder), served to
    builds on the docker0 bridge: it stands in for https://download.pytorch.org/whl/cpu, which
    no build here can reach. Its URL, for TORCH_INDEX_URL."""
    pip = [str(Path(sys.base_prefix) / "bin" / "python3"), "-m", "pip"]  # a venv's may have none
    wheels = (
        os.environ.get("UV_FIND_LINKS")
        or subprocess.run(
            [*pip, "config", "get", WHEELS_SETTING], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "torch").mkdir()
        for wheel in Path(wheels).glob("torch-*.whl"):
            (Path(root) / "torch" / wheel.name).symlink_to(wheel)
        handler = functools.partial(QuietHandler, directory=root)
        server = http.server.ThreadingHTTPServer((HOST_FROM_CONTAINERS, 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://{HOST_FROM_CONTAINERS}:{server.server_port}/"
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    started = start_engine()
    print("dockerd", "started" if started else "already running")
    for standin in stack_images(Path(sys.argv[1])):
        built = build_standin(standin)
        print(f"{standin.image}: {'built' if built else 'present'} ({standin.what})")
