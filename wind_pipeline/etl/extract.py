"""Extract: read the Source through the Conektor API with httpx, retrying transient faults."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
import pandas as pd
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from wind_pipeline.source_data import SourcePeriod


class ConektorRequestError(RuntimeError):
    """The API rejected the request (4xx): retrying cannot help."""


class ConektorUnavailable(RuntimeError):
    """The API stayed unreachable or kept failing (connection errors, 5xx) after the retries."""


class _ServerError(Exception):
    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code}: {response.text[:200]}")
        self.response = response


def _is_transient(exc: BaseException) -> bool:
    # Connection errors, timeouts, truncated bodies and 5xx may heal; 4xx never do.
    return isinstance(exc, httpx.TransportError | _ServerError)


@dataclass
class FetchStats:
    requests: int = 0
    seconds: float = 0.0
    bytes: int = 0


class ConektorSession:
    """A pooled httpx client for one run, with bounded exponential-backoff retries."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float = 30.0,
        max_attempts: int = 4,
        backoff_seconds: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.stats = FetchStats()
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_seconds, connect=5.0),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ConektorSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get_once(self, path: str, params: list[tuple[str, str]]) -> httpx.Response:
        self.stats.requests += 1
        response = self._http.get(path, params=params)
        if response.status_code >= 500:
            raise _ServerError(response)
        if response.status_code >= 400:
            raise ConektorRequestError(
                f"Conektor API refused {path} ({response.status_code}): {_detail(response)}"
            )
        response.read()  # a body cut off mid-way raises a TransportError here, and is retried
        return response

    def get_json(self, path: str, params: list[tuple[str, str]] | None = None) -> object:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential_jitter(
                multiplier=self.backoff_seconds, max=10.0, jitter=self.backoff_seconds
            ),
            retry=retry_if_exception(_is_transient),
            reraise=True,
        )
        started = time.perf_counter()
        try:
            response = retrying(self._get_once, path, params or [])
        except (httpx.TransportError, _ServerError) as exc:
            raise ConektorUnavailable(
                f"Conektor API at {self.base_url} unavailable after {self.max_attempts} attempts: "
                f"{exc or type(exc).__name__}"
            ) from exc
        finally:
            self.stats.seconds += time.perf_counter() - started
        self.stats.bytes += len(response.content)
        try:
            return response.json()
        except ValueError as exc:
            raise ConektorUnavailable(f"Conektor API sent a malformed body for {path}") from exc

    def fetch_window(
        self, start: datetime, end: datetime, variables: Sequence[str]
    ) -> pd.DataFrame:
        """Rows with start <= timestamp < end: a UTC `timestamp` column plus one per variable."""
        params = [("start", start.isoformat()), ("end", end.isoformat()), ("format", "columns")]
        params += [("variables", name) for name in variables]
        body = self.get_json("/data", params)
        columns = body["data"]  # type: ignore[index]
        frame = pd.DataFrame(
            {name: pd.array(columns[name], dtype="float64") for name in variables},
        )
        frame.insert(
            0, "timestamp", pd.to_datetime(columns["timestamp"], utc=True, format="ISO8601")
        )
        return frame

    def coverage(self) -> SourcePeriod:
        body = self.get_json("/coverage")
        first, last = body["first_timestamp"], body["last_timestamp"]  # type: ignore[index]
        return SourcePeriod(
            pd.Timestamp(first).to_pydatetime() if first else None,
            pd.Timestamp(last).to_pydatetime() if last else None,
            int(body["row_count"]),  # type: ignore[index]
        )


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:200]
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg')}"
            for item in detail
        )
    return str(detail)
