"""The API's log, as `python -m api_service --log-file` writes it: every line in one file,
rotated at a size with a bounded number of old files kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from wind_pipeline_tests.support.postgres import reader_url


def test_the_log_rotates_and_keeps_a_bounded_number_of_files(source_url, serve_api_process):
    api = serve_api_process(reader_url(source_url), "--log-max-bytes", "2000", "--log-backups", "2")
    with httpx.Client(base_url=api.url) as client:
        for i in range(120):
            assert client.get("/health", params={"n": str(i)}).status_code == 200
    folder = api.log_file.parent
    assert sorted(path.name for path in folder.iterdir()) == ["api.log", "api.log.1", "api.log.2"]
    assert all(path.stat().st_size <= 2000 for path in folder.iterdir())
    assert '"GET /health?n=119 HTTP/1.1" 200' in api.log_file.read_text()


def test_the_default_keeps_five_files_of_ten_mib():
    from api_service.__main__ import parse_args

    args = parse_args(["--log-file", "api.log"])
    assert (args.log_max_bytes, args.log_backups) == (10 * 1024 * 1024, 5)


def test_a_bad_setting_at_start_up_is_logged_in_one_line(tmp_path: Path):
    log_file = tmp_path / "api.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIND_")}
    env["WIND_API_MAX_RANGE_DAYS"] = "0"
    result = subprocess.run(
        [sys.executable, "-m", "api_service", "--port", "1", "--log-file", str(log_file)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    logged = log_file.read_text()
    assert "WIND_API_MAX_RANGE_DAYS" in logged and "Traceback" not in logged
    assert len(logged.strip().splitlines()) == 1
