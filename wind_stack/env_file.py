"""The `.env` file the local stack writes: the settings every entry point reads.

Only the keys the stack manages are written, each as `KEY=${KEY:-value}` so that a variable
exported in the shell wins over the file in every reader (Dagster's CLI loads `.env` over the
environment; python-dotenv, pydantic-settings and Compose all expand this form). Every other
line -- a setting the user added (`WIND_API_CORS_ORIGINS`, Compose passwords), a comment -- is
kept as it was, in place. The file is readable by its owner only (it holds passwords).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from wind_stack.passwords import write_private

HEADER = (
    "# Written by `wind-stack up` (make up): the local stack's settings; your own lines are kept.\n"
)
_KEY = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def managed_line(key: str, value: str) -> str:
    if "$" in value or "}" in value or "\n" in value:
        raise ValueError(f"{key}: a stack-managed value cannot hold '$', '}}' or a newline")
    return f"{key}=${{{key}:-{value}}}\n"


def write_env_file(path: Path, settings: Mapping[str, str]) -> None:
    """Set the stack's keys in `path` (replacing their old lines in place); keep every other line."""
    try:
        lines = path.read_text().splitlines(keepends=True)
    except FileNotFoundError:
        lines = []
    pending = dict(settings)
    kept = []
    for line in lines:
        if line == HEADER or line.startswith("# Written by `wind-stack up`"):
            continue
        match = _KEY.match(line)
        key = match.group(1) if match else None
        if key in settings:
            if key in pending:  # the first line for a key is replaced; a repeat is dropped
                kept.append(managed_line(key, pending.pop(key)))
            continue
        kept.append(line if line.endswith("\n") else line + "\n")
    kept += [managed_line(key, value) for key, value in pending.items()]
    write_private(path, HEADER + "".join(kept))


def read_env_file(path: Path) -> dict[str, str]:
    """Every `KEY=value` of `path`, a managed `KEY=${KEY:-value}` read as its value (the one the
    stack wrote, whatever the environment says)."""
    values = {}
    for line in path.read_text().splitlines():
        match = _KEY.match(line)
        if match:
            key, value = match.group(1), line.split("=", 1)[1].strip()
            managed = re.fullmatch(r"\$\{" + key + r":-(.*)\}", value)
            values[key] = managed.group(1) if managed else value
    return values


def remove_managed(path: Path, keys: set[str]) -> None:
    """Take the stack's lines out of `path` (`make clean`); delete it if nothing else is left."""
    try:
        lines = path.read_text().splitlines(keepends=True)
    except FileNotFoundError:
        return
    kept = [
        line
        for line in lines
        if not line.startswith("# Written by `wind-stack up`")
        and not ((match := _KEY.match(line)) and match.group(1) in keys)
    ]
    if any(line.strip() for line in kept):
        write_private(path, "".join(kept))
    else:
        path.unlink()
