"""A stage-4 project as a person sees it, in headless Chromium: the server's Swagger UI lists
the routes and "Try it out" predicts; the drift report shows its verdict; the model card shows
its version and metrics. Each page is checked offline: a request that leaves its own origin is
refused (and fails the test), so a page that needs a CDN cannot pass.

The browser is Debian's ``chromium`` package (``make tools`` installs it), driven by
Playwright, which never downloads one. Each test saves a full-page screenshot to
artifacts/screenshots/<test>.png (<test>-at-failure.png when it failed first); the folder is
emptied when a run starts.
"""

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import TEMPLATE, bake_ok, free_port
from test_stage2 import project_env, run

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
#: Headless, and nothing in the background: no updates, sync or QUIC probes (a closed network
#: answers them with errors). No sandbox: CI runs as root, where Chromium's sandbox refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = TEMPLATE / "artifacts" / "screenshots"
PACKAGE = "customer_churn"
TEST_ROWS = 4_000
HOST = "127.0.0.1"
#: Bounds, not expectations: a busy two-core machine imports MLflow and renders slowly.
READY_POLLS = 600  # x 0.5 s for the server's /ready
WAIT_MS = 120_000  # for any one element to appear
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_SCREENSHOT_BYTES = 10_000


@dataclass(frozen=True)
class Stage4:
    project: Path
    env: dict
    window: Path  # the drifted window the drift report compares
    drift: Path  # report.html and summary.json
    card: Path  # model_card.html, model_card.md, lineage.json


@pytest.fixture(scope="module")
def stage4(tmp_path_factory, project_python) -> Stage4:
    """A default stage-4 bake on small data: a registered champion, the drift report of a
    drifted window, and the champion's model card fetched from the registry."""
    project = bake_ok(tmp_path_factory.mktemp("browser") / "out", maturity_stage="4", git_init="no")
    config = project / "configs" / "pipeline.yaml"
    config.write_text(config.read_text().replace("rows: 50000", f"rows: {TEST_ROWS}"))
    env = project_env(project_python, project)
    python, window = str(project_python), project / "windows" / "drifted.csv"
    run([python, "-m", PACKAGE, "run", "--quiet", "--register"], project, env)
    generate = ["generate", "--quiet", "--rows", "3000", "--drift", "1", "--seed", "12"]
    run([python, "-m", PACKAGE, *generate, "--output", str(window)], project, env)
    drift = project / "reports" / "drift-browser"
    checked = [python, "-m", PACKAGE, "drift", "--current", str(window), "--out", str(drift)]
    found = run([*checked, "--no-log"], project, env, check=False)
    assert found.returncode == 3, f"expected exit 3 (drift found):\n{found.stdout}{found.stderr}"
    card = project / "reports" / "card-browser"
    run([python, "-m", PACKAGE, "model-card", "--out", str(card)], project, env)
    return Stage4(project, env, window, drift, card)


@pytest.fixture(scope="module")
def server(stage4, project_python, tmp_path_factory):
    """``serve`` on a free port in its own process group; stopped by its process id."""
    url, log_path = f"http://{HOST}:{free_port()}", tmp_path_factory.mktemp("server") / "log"
    command = [str(project_python), "-m", PACKAGE, "serve", "--host", HOST]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "--port", url.rsplit(":", 1)[1]],
            cwd=stage4.project,
            env=stage4.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(url, process, log_path)
        yield url
    finally:
        stop(process)


def wait_ready(url: str, process: subprocess.Popen, log_path: Path) -> None:
    for _ in range(READY_POLLS):
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:  # not listening yet, or 503 while the model loads
            pass
        time.sleep(0.5)
    pytest.fail(f"serve was not ready at {url}/ready:\n{log_path.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module", autouse=True)
def browser():
    """Debian's Chromium through Playwright. A missing piece fails, naming the command that
    installs it: the tests must not pass by being skipped. Autouse: checked before the bake."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium package. Run "
            "`make tools` (apt-get install chromium, as root or with sudo), or set CHROMIUM "
            "to another Chromium binary."
        )
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed in this venv: run `make setup`")
    expect.set_options(timeout=WAIT_MS)
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # no stale picture passes for this run's
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Page:
    """A fresh page whose requests may go only to ``origin`` (the rest are aborted and
    recorded), with a full-page screenshot named after its test."""

    def __init__(self, browser, origin: str, name: str, say):
        self.say = say  # a line on the terminal, past pytest's capture
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(WAIT_MS)
        self.origin, self.name, self.foreign = origin, name, []
        self.saved = False
        self.context.route(re.compile(r".*"), self._only_own_origin)
        self.page = self.context.new_page()

    def _only_own_origin(self, route) -> None:
        url = route.request.url
        own = url == self.origin or url.startswith(f"{self.origin.rstrip('/')}/")
        if own or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def finish(self) -> Path:
        """Save the screenshot (printed), check it is a real PNG and that nothing left the
        origin; its path."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.saved = True
        self.say(f"screenshot: {path} ({path.stat().st_size:,} bytes)")
        assert self.foreign == [], f"requests that left {self.origin}: {self.foreign}"
        assert path.read_bytes()[: len(PNG_SIGNATURE)] == PNG_SIGNATURE
        assert path.stat().st_size > MIN_SCREENSHOT_BYTES
        return path


@pytest.fixture
def open_page(browser, request, capsys):
    """``open_page(origin)``: a Page for this test, closed afterwards."""
    opened: list[Page] = []

    def say(line: str) -> None:
        with capsys.disabled():
            print(f"\n{line}")

    def open_one(origin: str) -> Page:
        opened.append(Page(browser, origin, request.node.name, say))
        return opened[-1]

    yield open_one
    for page in opened:
        if not page.saved:  # the test failed first: keep what the page showed then
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            failed = SCREENSHOTS / f"{page.name}-at-failure.png"
            page.page.screenshot(path=str(failed), full_page=True)
            say(f"screenshot at failure: {failed}")
        page.context.close()


def get_json(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=60) as answer:
        return json.loads(answer.read())


def operations(spec: dict) -> list[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return sorted(
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in methods
    )


def customer_from(window: Path, body_schema: dict) -> dict:
    """The window's first customer, typed as the request schema says (CSV cells are text)."""
    with window.open(newline="") as table:
        row = next(csv.DictReader(table))
    return {name: typed(row[name], field) for name, field in body_schema["properties"].items()}


def typed(cell: str, field: dict):
    kinds = [choice.get("type") for choice in field.get("anyOf", [field])]
    if cell == "" and "null" in kinds:
        return None
    if "integer" in kinds:
        return int(cell)
    if "number" in kinds:
        return float(cell)
    return cell


def test_swagger_ui_lists_every_route_and_try_it_out_predicts(stage4, server, open_page):
    from playwright.sync_api import expect

    spec = get_json(f"{server}/openapi.json")
    predict = spec["paths"]["/predict"]["post"]
    body_schema = predict["requestBody"]["content"]["application/json"]["schema"]
    customer = customer_from(stage4.window, body_schema)
    browser_page = open_page(server)
    page = browser_page.page

    page.goto(f"{server}/docs")
    blocks = page.locator(".opblock")
    expect(blocks).to_have_count(len(operations(spec)))
    shown = blocks.evaluate_all(
        """blocks => blocks.map(block => [
            block.querySelector('.opblock-summary-method').innerText,
            block.querySelector('.opblock-summary-path').dataset.path])"""
    )
    assert sorted(map(tuple, shown)) == operations(spec)

    operation = page.locator('.opblock-post:has(.opblock-summary-path[data-path="/predict"])')
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("textarea.body-param__text").fill(json.dumps(customer, indent=2))
    operation.get_by_role("button", name="Execute").click()
    answered = operation.locator(".live-responses-table .response")
    expect(answered.locator(".response-col_status")).to_have_text("200")
    shown_body = json.loads(answered.locator(".response-col_description pre").first.inner_text())

    direct = get_json(f"{server}/predict", customer)
    assert 0.0 <= shown_body["churn_probability"] <= 1.0
    assert shown_body["churn_probability"] == direct["churn_probability"]
    assert shown_body["model_version"] == direct["model_version"] == "1"
    browser_page.finish()


def test_drift_report_renders_the_verdict_and_counts_of_its_summary(stage4, open_page):
    from playwright.sync_api import expect

    summary = json.loads((stage4.drift / "summary.json").read_text())
    report = stage4.drift / "report.html"
    assert summary["dataset_drift"] is True  # the window was generated drifted
    columns = summary["columns"]
    most_drifted = max(summary["drifted_columns"], key=lambda name: columns[name]["score"])
    browser_page = open_page(report.as_uri())
    page = browser_page.page

    page.goto(report.as_uri())
    expect(page.get_by_text("Dataset Drift is detected.")).to_be_visible()
    counts = page.get_by_text(re.compile(r"Drift is detected for [\d.]+% of columns"))
    expect(counts).to_be_visible()
    drifted, total = re.search(r"\((\d+) out of (\d+)\)", counts.inner_text()).groups()
    assert int(drifted) == summary["number_of_drifted_columns"] == len(summary["drifted_columns"])
    assert int(total) == summary["number_of_columns"]
    # Evidently sorts its table by drift score: the most drifted column is on the first page.
    row = page.get_by_role("row").filter(
        has=page.get_by_role("cell", name=most_drifted, exact=True)
    )
    expect(row.get_by_role("cell", name="Detected", exact=True)).to_be_visible()
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()  # charts drew
    browser_page.finish()


def test_model_card_renders_its_title_version_and_metrics(stage4, open_page):
    from playwright.sync_api import expect

    lineage = json.loads((stage4.card / "lineage.json").read_text())
    markdown = (stage4.card / "model_card.md").read_text()
    registered = json.loads((stage4.project / "reports" / "registered.json").read_text())
    card = stage4.card / "model_card.html"
    model = lineage["model"]
    title = f"Model card: {model['name']} version {model['version']}"
    browser_page = open_page(card.as_uri())
    page = browser_page.page

    page.goto(card.as_uri())
    expect(page).to_have_title(title)
    expect(page.locator("h1")).to_have_text(title)
    assert model["version"] == registered["version"]
    assert markdown.startswith(f"# {title}\n")
    metrics_table = page.locator("table", has=page.locator("th", has_text=re.compile("^metric$")))
    shown = dict(
        metrics_table.locator("tbody tr").evaluate_all(
            "rows => rows.map(row => [...row.cells].map(cell => cell.innerText))"
        )
    )
    assert shown == markdown_table(markdown, "metric")
    assert shown["roc_auc"] == f"{lineage['metrics']['roc_auc']:.4f}"
    assert shown["brier"] == f"{lineage['metrics']['brier']:.4f}"
    figures = page.locator("figure img")
    expect(figures).to_have_count(markdown.count("!["))
    widths = figures.evaluate_all("images => images.map(image => image.naturalWidth)")
    assert min(widths) > 0, "a figure did not decode"
    browser_page.finish()


def markdown_table(markdown: str, first_header: str) -> dict[str, str]:
    """The two-column Markdown table whose header starts with ``first_header``, as a dict."""
    lines = markdown.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        name, value = (cell.strip() for cell in line.strip("|").split("|"))
        rows[name] = value
    return rows
