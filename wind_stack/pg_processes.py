"""PostgreSQL server processes found by their data folder, and the orphans a crash leaves."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psutil

from wind_stack import StackError


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def is_postgres(pid: int) -> bool:
    """Whether `pid` is a live PostgreSQL process (a pid file can outlive its server)."""
    try:
        proc = psutil.Process(pid)
        return _alive(proc) and "postgres" in proc.name()
    except psutil.Error:
        return False


def server_processes(data_dir: Path) -> list[psutil.Process]:
    """Live PostgreSQL processes working in `data_dir` (every server process chdirs there)."""
    target = data_dir.resolve()
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if "postgres" in (proc.info["name"] or "") and Path(proc.cwd()) == target:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def reap_orphaned_server_processes(data_dir: Path, timeout: float = 15.0) -> int:
    """Kill server processes that outlived their postmaster; return how many there were.

    A backend busy in a query when its postmaster was killed keeps running, attached to the
    old shared memory, and a new server then refuses to start ("pre-existing shared memory
    block is still in use"). PostgreSQL itself SIGKILLs its children after a crash, so doing
    it here loses nothing that crash recovery would keep. Called only when no postmaster runs.
    """
    orphans = server_processes(data_dir)
    if any("-D" in proc.cmdline() for proc in orphans if _alive(proc)):
        return 0  # a postmaster still runs on this directory (its pid file was lost): adopt it
    for proc in orphans:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _, alive = psutil.wait_procs(orphans, timeout=timeout)
    if alive:
        raise StackError(
            f"old PostgreSQL processes {[p.pid for p in alive]} on {data_dir} did not exit"
        )
    return len(orphans)
