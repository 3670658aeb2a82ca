"""`/docs` and `/redoc` work offline: every script, style and favicon is served by the API
itself (FastAPI's own pages load them from a CDN and are blank without internet)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from wind_pipeline_tests.support.api_server import ApiServer
from wind_pipeline_tests.support.postgres import reader_url

PAGES = ["/docs", "/redoc"]
# Any scheme (`https:`, `http:`) or none (`//cdn.example`): a URL on another host.
EXTERNAL = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
KINDS = {".js": ("javascript", 100_000), ".css": ("text/css", 10_000), ".png": ("image/", 500)}


class Assets(HTMLParser):
    """What a page makes the browser load: `<script src>`, `<link href>` (the favicon's too)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.rels: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        url = attr.get({"script": "src", "link": "href"}.get(tag, ""))
        if url:
            self.urls.append(url)
            self.rels.append(attr.get("rel") or "")


@pytest.mark.parametrize("page", PAGES)
def test_the_page_names_no_other_host(api: httpx.Client, page: str):
    response = api.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert not EXTERNAL.search(response.text), EXTERNAL.findall(response.text)
    assets = Assets(response.text)
    assert any("icon" in rel for rel in assets.rels), "no favicon"
    assert assets.urls and all(u.startswith("/docs/static/") for u in assets.urls), assets.urls
    assert "/openapi.json" in response.text


@pytest.mark.parametrize("page", PAGES)
def test_every_asset_of_the_page_is_served(api: httpx.Client, page: str):
    for url in Assets(api.get(page).text).urls:
        response = api.get(url)
        assert response.status_code == 200, url
        content_type, min_size = KINDS[url[url.rindex(".") :]]
        assert content_type in response.headers["content-type"], (url, response.headers)
        assert len(response.content) > min_size, url
        head = api.head(url)
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == str(len(response.content))


def test_the_served_swagger_ui_reads_the_apps_openapi_version(api: httpx.Client):
    # Swagger UI 4 (e.g. the swagger-ui-bundle wheel) renders "Unable to render this
    # definition" for OpenAPI 3.1, which FastAPI emits; 5 has the `oas31` plugin.
    assert api.get("/openapi.json").json()["openapi"].startswith("3.1.")
    swagger_js = next(u for u in Assets(api.get("/docs").text).urls if u.endswith(".js"))
    assert b"isOAS31" in api.get(swagger_js).content


def test_the_oauth2_redirect_page_is_local_too(api: httpx.Client):
    assert "'/docs/oauth2-redirect'" in api.get("/docs").text
    response = api.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert not EXTERNAL.search(response.text)


def test_the_openapi_still_loads_without_the_docs_routes(api: httpx.Client):
    response = api.get("/openapi.json")
    assert response.status_code == 200
    assert set(response.json()["paths"]) == {"/data", "/coverage", "/variables", "/health"}


@pytest.mark.parametrize("path", ["/docs/static", "/docs/static/", "/docs/static/../core.py"])
def test_the_asset_folder_lists_nothing_and_stays_in_the_package(api: httpx.Client, path: str):
    response = api.get(path)
    assert response.status_code == 404
    assert not response.is_redirect


@pytest.fixture(scope="module")
def proxied_api_url(source_url: str) -> Iterator[str]:
    """The API as behind a proxy that serves it under /conektor (uvicorn --root-path)."""
    server = ApiServer(reader_url(source_url))
    server.server.config.root_path = "/conektor"  # read per connection, so set before start
    yield server.start().url
    server.stop()


@pytest.mark.parametrize("page", PAGES)
def test_behind_a_proxy_the_pages_name_its_prefix(proxied_api_url: str, page: str):
    with httpx.Client(base_url=proxied_api_url, timeout=30) as client:
        html = client.get(page).text
        assert "/conektor/openapi.json" in html
        urls = Assets(html).urls
        assert urls and all(url.startswith("/conektor/docs/static/") for url in urls), urls
        for url in urls:  # the proxy strips the prefix before passing a request on
            assert client.get(url.removeprefix("/conektor")).status_code == 200, url
