"""The Conektor API client: all reads of the Source, through httpx, retrying transient faults.

`fetch_window` asks for the API's CSV representation, the fastest to produce and parse
(see benchmarks/API_RESULTS.md), and follows the keyset cursor when a window spans more
than one page; a day (1,440 rows) is always one request.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import httpx
import pandas as pd
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from wind_pipeline.domain import AGGREGATED_VARIABLES, SourcePeriod
from wind_pipeline.etl.days import consecutive_runs, window_of
from wind_pipeline.settings import mask_passwords

# The API's largest page (api_service.routers.data.MAX_PAGE_ROWS): fewest round trips.
DEFAULT_PAGE_ROWS = 100_000
# Days read per paged `/data` call when reading several days: a year is one call of few pages.
FETCH_CHUNK_DAYS = 366


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
        page_rows: int = DEFAULT_PAGE_ROWS,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.page_rows = page_rows
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

    def get(self, path: str, params: list[tuple[str, str]] | None = None) -> httpx.Response:
        """GET with retries on transient faults; a 4xx raises ConektorRequestError at once."""
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
            # The URL may carry credentials; Dagster logs this message.
            raise ConektorUnavailable(
                mask_passwords(
                    f"Conektor API at {self.base_url} unavailable after {self.max_attempts} "
                    f"attempts: {exc or type(exc).__name__}"
                )
            ) from exc
        finally:
            self.stats.seconds += time.perf_counter() - started
        self.stats.bytes += len(response.content)
        return response

    def get_json(self, path: str, params: list[tuple[str, str]] | None = None) -> object:
        response = self.get(path, params)
        try:
            return response.json()
        except ValueError as exc:
            raise ConektorUnavailable(f"Conektor API sent a malformed body for {path}") from exc

    def fetch_window(
        self, start: datetime, end: datetime, variables: Sequence[str]
    ) -> pd.DataFrame:
        """Rows with start <= timestamp < end: a UTC `timestamp` column plus one per variable."""
        variables = list(variables)
        query = [
            ("start", start.isoformat()),
            ("end", end.isoformat()),
            ("format", "csv"),
            ("limit", str(self.page_rows)),
        ]
        query += [("variables", name) for name in variables]
        pages: list[pd.DataFrame] = []
        cursor: str | None = None
        while True:
            response = self.get("/data", query + ([("cursor", cursor)] if cursor else []))
            page = _parse_csv(response.content, variables)
            if (
                pages
                and not page.empty
                and page["timestamp"].iloc[0] <= pages[-1]["timestamp"].iloc[-1]
            ):
                raise ConektorUnavailable("Conektor API sent overlapping pages")
            pages.append(page)
            cursor = _next_cursor(response)
            if cursor is None:
                break
            if page.empty:
                raise ConektorUnavailable("Conektor API sent an empty page with a next page")
        return pages[0] if len(pages) == 1 else pd.concat(pages, ignore_index=True)

    def fetch_days(
        self,
        days: Sequence[date],
        variables: Sequence[str] = AGGREGATED_VARIABLES,
        chunk_days: int = FETCH_CHUNK_DAYS,
    ) -> pd.DataFrame:
        """The Source rows of `days` (at least one, not necessarily consecutive) as one frame.

        Each run of consecutive days (up to `chunk_days`) is one paged `/data` call.
        """
        frames = [
            self.fetch_window(*window_of(run), variables)
            for run in consecutive_runs(days, chunk_days)
        ]
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def coverage(self) -> SourcePeriod:
        """The Source's period as `/coverage` states it."""
        body = self.get_json("/coverage")
        try:
            first, last = body["first_timestamp"], body["last_timestamp"]  # type: ignore[index]
            return SourcePeriod(
                _utc(first) if first else None,
                _utc(last) if last else None,
                int(body["row_count"]),  # type: ignore[index]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConektorUnavailable("Conektor API sent a malformed /coverage body") from exc


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _parse_csv(content: bytes, variables: list[str]) -> pd.DataFrame:
    """One CSV page to a frame: `timestamp` (UTC) then the variables as float64 (NaN = missing)."""
    try:
        frame = pd.read_csv(io.BytesIO(content), dtype={name: "float64" for name in variables})
    except (ValueError, pd.errors.ParserError) as exc:
        raise ConektorUnavailable(f"Conektor API sent a malformed CSV body: {exc}") from exc
    if list(frame.columns) != ["timestamp", *variables]:
        raise ConektorUnavailable(
            f"Conektor API sent columns {list(frame.columns)}, expected timestamp + {variables}"
        )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame


def _next_cursor(response: httpx.Response) -> str | None:
    """The keyset cursor of the next page, from the `Link: <...>; rel="next"` header."""
    link = response.links.get("next")
    if not link:
        return None
    return httpx.URL(link["url"]).params.get("cursor")


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
