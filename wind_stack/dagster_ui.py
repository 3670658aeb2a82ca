"""Whether a Dagster UI is this checkout's: what `make run` and `make live` say about the UI."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
import httpx

UI_URL = "http://127.0.0.1:3000"

# What a Dagster webserver says about itself: its code locations and its instance.
_WHO_ARE_YOU = """
{ instance { executablePath info }
  workspaceOrError { ... on Workspace { locationEntries { name } } } }
"""


def ui_of_this_checkout(url: str, instance: dg.DagsterInstance) -> bool:
    """Whether `url` serves this checkout's Dagster UI, not just anything on that port: a Dagster
    webserver that serves the `wind_pipeline` code location with this venv's Python and, when it
    shows its instance's configuration, this DAGSTER_HOME's instance."""
    try:
        reply = httpx.post(f"{url}/graphql", json={"query": _WHO_ARE_YOU}, timeout=2.0)
        data = reply.json()["data"]
        entries = data["workspaceOrError"]["locationEntries"]
        executable, info = data["instance"]["executablePath"], data["instance"]["info"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return False
    if "wind_pipeline" not in {entry.get("name") for entry in entries or []}:
        return False
    # The same venv: `dg dev` runs `.venv/bin/python3.11` where this is `.venv/bin/python`.
    if not executable or Path(executable).parent.resolve() != Path(sys.executable).parent.resolve():
        return False
    return info is None or str(instance.root_directory) in info
