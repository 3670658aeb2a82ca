"""The API benchmark's smoke mode runs end to end, so the script cannot rot.

No timing is asserted (speed lives in benchmarks/API_RESULTS.md); only that every
measurement ran and read the rows it should have.
"""

from __future__ import annotations

import json
import subprocess
import sys

from wind_pipeline_tests.support.helpers import REPO_ROOT


def test_benchmark_smoke_mode(tmp_path):
    out, report = tmp_path / "results.json", tmp_path / "RESULTS.md"
    report.write_text(
        "# prose before\n<!-- bench_api results: begin -->\nold\n"
        "<!-- bench_api results: end -->\nafter\n"
    )
    script = REPO_ROOT / "benchmarks" / "bench_api.py"
    result = subprocess.run(
        [sys.executable, str(script), "--smoke", "--json", str(out), "--markdown", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["mode"] == "smoke"
    assert set(results["one_day"]) == {"records", "columns", "csv", "baseline (list of dicts)"}
    assert results["bulk"]["rows"] == results["bulk"]["days"] * 1440
    assert set(results["bulk"]["to_dataframe"]) == set(results["one_day"])
    assert results["year"]["rows"] == results["seeded_rows"] == results["year"]["days"] * 1440
    assert results["year"]["api_rss_mib"]["peak_vmhwm"] > 0
    assert "### 3. A year" in result.stdout
    text = report.read_text()
    assert text.startswith("# prose before\n") and text.endswith("-->\nafter\n")
    assert "old" not in text and "| target | wanted | measured | met |" in text
