"""/docs (Swagger UI) and /redoc work with no network: every script, style and icon they load
comes from the server itself, and it answers for each, even with an API key configured."""

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.serving.app import create_app

PAGES = {"/docs": "swagger-ui-bundle.js", "/redoc": "redoc.standalone.js"}


class _Assets(HTMLParser):
    """The URLs a page loads by itself: ``src`` of scripts, ``href`` of links."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


def assets(page: str) -> list[str]:
    parser = _Assets()
    parser.feed(page)
    return parser.urls


@pytest.fixture(scope="module")
def client(tmp_path_factory, tracked_settings) -> TestClient:
    """The app without its lifespan (no model is loaded: the pages do not need one), with a
    key on the prediction routes, which must not lock the documentation out."""
    key = SecretStr("a-key-the-pages-never-need")
    settings = tracked_settings(tmp_path_factory.mktemp("docs"), serve_api_key=key)
    return TestClient(create_app(settings))


@pytest.mark.parametrize(("path", "script"), PAGES.items())
def test_the_documentation_page_loads_only_assets_of_its_own_server(client, path, script):
    answer = client.get(path)

    assert answer.status_code == 200
    assert re.findall(r"\w+://[^\s'\"<>]+", answer.text) == []  # no CDN, no other origin
    urls = assets(answer.text)
    assert any(url.endswith(f"/{script}") for url in urls), urls
    for url in urls:
        assert re.match(r"/[^/]", url), f"not a path on this server: {url}"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1_000, url


def test_the_page_reads_the_servers_own_openapi_document(client):
    page = client.get("/docs").text

    assert "url: '/openapi.json'" in page
    assert client.get("/openapi.json").json()["paths"]["/predict"]
