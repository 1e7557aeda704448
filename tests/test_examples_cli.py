"""examples/fan_in.yaml runs end to end through the real ``atomiton`` command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from test_examples import EXAMPLES, atomiton


def test_fan_in_joins_both_branches_onto_the_known_customers(tmp_path: Path) -> None:
    result = atomiton(
        "run",
        str(EXAMPLES / "fan_in.yaml"),
        "--input",
        f"ordersPath={EXAMPLES / 'data' / 'orders.csv'}",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)

    # The same numbers computed directly from the CSV.
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    with open(EXAMPLES / "data" / "orders.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            totals[row["customer"]] = totals.get(row["customer"], 0.0) + float(row["amount"])
            counts[row["customer"]] = counts.get(row["customer"], 0) + 1
    report = {row["customer"]: row for row in outputs["report"]}
    assert list(report) == ["acme", "hooli", "initech", "wayne"]  # the left side's order
    for name in ("acme", "hooli", "initech"):
        assert report[name]["total"] == round(totals[name], 2)
        assert report[name]["orders"] == counts[name]
    assert report["wayne"] == {"customer": "wayne", "region": "US"}  # left join: no orders
    assert outputs["customers"] == 4
