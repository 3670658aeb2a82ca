"""The benchmark harness runs end to end in smoke mode, so it cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys

from wind_pipeline_tests.support.helpers import REPO_ROOT


def test_pipeline_benchmark_smoke(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_pipeline", "--smoke", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["smoke"] is True
    assert results["seed"]["2_days"]["rows"] == 2880
    assert results["etl_day"]["ratio"] > 0
    assert set(results["backfill"]) == {"2_days", "3_days"}
    assert results["materialize_one"]["ratio"] > 0
    text = (tmp_path / "RESULTS.md").read_text()
    assert "ETL core, one day" in text and "no-op asset" in text
