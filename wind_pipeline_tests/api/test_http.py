"""HTTP semantics: HEAD wherever GET works, `Accept` q-values honoured, and the `Host`
header never turned into a redirect's `Location`."""

from __future__ import annotations

import httpx
import pytest

TWO_MINUTES = {"start": "2024-01-05T00:00:00Z", "end": "2024-01-05T00:02:00Z", "variables": "power"}

GETS = [
    ("/health", {}),
    ("/coverage", {}),
    ("/variables", {}),
    ("/openapi.json", {}),
    ("/docs", {}),
    ("/data", TWO_MINUTES),
    ("/data", {**TWO_MINUTES, "format": "csv"}),
    ("/data", {**TWO_MINUTES, "limit": "1"}),  # with a Link header
    ("/data", {"start": "2024-01-06", "end": "2024-01-05"}),  # a 422
    ("/nowhere", {}),  # a 404
]


@pytest.mark.parametrize(("path", "params"), GETS)
def test_head_answers_like_get_without_a_body(api: httpx.Client, path: str, params: dict):
    get = api.get(path, params=params)
    head = api.head(path, params=params)
    assert head.status_code == get.status_code
    assert head.content == b""
    for name in ("content-type", "content-length", "link", "vary"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_every_get_operation_in_the_openapi_answers_head(api: httpx.Client):
    paths = api.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        if "get" in operations and "{" not in path:
            params = TWO_MINUTES if path == "/data" else {}
            assert api.head(path, params=params).status_code == 200, path


def test_a_405_allows_head_beside_get(api: httpx.Client):
    response = api.post("/health")
    assert response.status_code == 405
    assert [m.strip() for m in response.headers["allow"].split(",")] == ["GET", "HEAD"]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("text/csv;q=0", "application/json"),  # q=0: not acceptable
        ("text/csv; q=0, */*", "application/json"),
        ("text/csv;q=0.0", "application/json"),
        ("text/csv", "text/csv"),
        ("text/csv;q=0.5, application/json", "application/json"),
        ("application/json;q=0.5, text/csv", "text/csv"),
        ("application/json;q=0, text/csv;q=0.1", "text/csv"),
        ("text/csv, application/json", "application/json"),  # a tie: the default
        ("*/*", "application/json"),
        ("text/html", "application/json"),  # names neither: disregarded
    ],
)
def test_accept_q_values_choose_the_representation(api: httpx.Client, accept, media_type):
    response = api.get("/data", params=TWO_MINUTES, headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["vary"] == "Accept"


@pytest.mark.parametrize("accept", ["application/json;q=0", "*/*;q=0", "text/csv;q=0, */*;q=0"])
def test_accept_refusing_every_representation_gets_406(api: httpx.Client, accept: str):
    response = api.get("/data", params=TWO_MINUTES, headers={"Accept": accept})
    assert response.status_code == 406
    assert "text/csv" in response.json()["detail"] and "format=" in response.json()["detail"]


def test_format_wins_over_accept(api: httpx.Client):
    response = api.get(
        "/data", params={**TWO_MINUTES, "format": "csv"}, headers={"Accept": "text/csv;q=0"}
    )
    assert response.headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize(
    "path",
    ["/data/?start=2024-01-05&end=2024-01-06", "/health/", "/coverage/", "/variables/", "/docs/"],
)
def test_the_host_header_never_becomes_a_location(api_url: str, path: str):
    with httpx.Client(base_url=api_url, follow_redirects=False) as client:
        response = client.get(path, headers={"Host": "evil.example"})
    assert "evil.example" not in response.headers.get("location", "")
    assert not response.is_redirect, response.headers
    assert response.status_code == 404
