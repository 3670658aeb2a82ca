"""Running PostgreSQL's tools when we are root: PostgreSQL refuses to run as root, so the
server and its tools run as an unprivileged system user."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PG_SYSTEM_USER = "wind_postgres"


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def ensure_system_user(name: str = PG_SYSTEM_USER) -> None:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )


def ensure_traversable(path: Path) -> None:
    """Let the server's system user reach `path` (o+x on every parent, as the wheel does)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o011)


def give_to_server_user(path: Path) -> None:
    """Hand `path` to the server's system user (when we are root; otherwise it is ours)."""
    if running_as_root():
        shutil.chown(path, PG_SYSTEM_USER, PG_SYSTEM_USER)


def run_as_server_user(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a PostgreSQL tool, as the server's system user when we are root.

    User, group and supplementary groups are all dropped: with `user=` alone the server would
    keep root's group (gid 0) and could read or write whatever that group may.
    """
    drop: dict = {}
    if running_as_root():
        import pwd

        entry = pwd.getpwnam(PG_SYSTEM_USER)
        drop = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd="/", **drop)


def runs_with_root_group(pid: int) -> bool:
    """Whether process `pid` has group root among its real, effective or supplementary groups."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    gids = fields.get("Gid", "").split()[:2] + fields.get("Groups", "").split()
    return "0" in gids
