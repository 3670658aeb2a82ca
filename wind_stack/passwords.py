"""Generated database passwords, kept in a file only its owner can read (mode 0600).

One password per role, made on first use: `secrets.token_urlsafe`, so a password needs no
quoting in a URL, in `.env` or in a shell, and holds no `$` (which `.env` would interpolate).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

PRIVATE = 0o600


def new_password() -> str:
    return secrets.token_urlsafe(24)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, atomically (never readable by others, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(temporary, PRIVATE)  # an existing file keeps its mode through O_CREAT
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class PasswordStore:
    """Role name -> password, in a JSON file of mode 0600."""

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def get(self, role: str) -> str | None:
        return self._read().get(role)

    def get_or_create(self, role: str) -> str:
        passwords = self._read()
        if role not in passwords:
            passwords[role] = new_password()
            write_private(self.path, json.dumps(passwords, indent=2) + "\n")
        elif self.path.stat().st_mode & 0o077:
            self.path.chmod(PRIVATE)
        return passwords[role]
