"""The `.env` file the local stack writes: the settings every entry point reads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

HEADER = "# Written by `wind-stack up` (make up): the local stack's settings.\n"


def write_env_file(path: Path, settings: Mapping[str, str]) -> None:
    body = "".join(f"{key}={value}\n" for key, value in settings.items())
    path.write_text(HEADER + body)
