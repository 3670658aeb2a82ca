"""HTTP details FastAPI leaves out: HEAD on every GET route, and `Accept` with its q-values."""

from __future__ import annotations

import math

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Answer HEAD wherever GET is answered: the same status and headers, no body (RFC 9110 9.3.2).

    FastAPI's GET routes refuse HEAD with a 405. The request runs as a GET (so
    Content-Length is the GET body's) and the body is dropped. A 405's `Allow` names HEAD
    beside GET.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"

        async def send_out(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                message = {**message, "headers": _allow_head(message.get("headers", []))}
            elif head and message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"} if head else scope, receive, send_out)


def _allow_head(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    out = []
    for name, value in headers:
        if name.lower() == b"allow":
            methods = [m.strip() for m in value.decode("latin-1").split(",") if m.strip()]
            if "GET" in methods and "HEAD" not in methods:
                methods.insert(methods.index("GET") + 1, "HEAD")
            value = ", ".join(methods).encode("latin-1")
        out.append((name, value))
    return out


def accept_quality(accept: str | None, media_type: str) -> float | None:
    """The q-value `accept` gives `media_type`: that of the most specific matching range
    (`text/csv` over `text/*` over `*/*`), or None when no range matches or there is no header.
    Parameters other than q are ignored; a range with a malformed q is ignored."""
    if not accept:
        return None
    kind, _, sub = media_type.lower().partition("/")
    best: tuple[int, float] | None = None
    for part in accept.split(","):
        fields = [field.strip() for field in part.split(";")]
        range_kind, _, range_sub = fields[0].lower().partition("/")
        if (range_kind, range_sub) == (kind, sub):
            specificity = 2
        elif (range_kind, range_sub) == (kind, "*"):
            specificity = 1
        elif (range_kind, range_sub) == ("*", "*"):
            specificity = 0
        else:
            continue
        quality = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = math.nan
                quality = min(max(quality, 0.0), 1.0) if math.isfinite(quality) else -1.0
        if quality < 0:
            continue
        if best is None or specificity > best[0]:
            best = (specificity, quality)
    return None if best is None else best[1]
