"""Streaming a large CSV through a filter into a CSV writer, in constant memory.

A compiled flow (spreadsheet read with ``stream: true`` -> a transform filter, lazy on a stream ->
spreadsheet write) against a hand-written floor (csv.reader -> generator -> csv.writer). Each runs
in its own subprocess so that its peak resident memory is its own: VmHWM from /proc, because
Linux carries ru_maxrss across exec, so a child would report at least the parent's peak.

Run: ``python benchmarks/csv_stream.py [--rows 1000000]`` (prints a markdown table).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from atomiton.compiler import CompileOptions, compile_blueprint

BLUEPRINT = """\
id: csv-stream
variables:
  source: {type: string, defaultValue: orders.csv}
  target: {type: string, defaultValue: large.csv}
nodes:
  - id: read
    type: spreadsheet
    parameters: {operation: read, path: "{{ inputs.source }}", stream: true}
  - id: large
    type: transform
    parameters: {operation: filter, transformFunction: "float(item['amount']) > 100"}
  - id: write
    type: spreadsheet
    parameters: {operation: write, path: "{{ inputs.target }}"}
edges:
  - {source: read, sourceHandle: records, target: large}
  - {source: large, target: write, targetHandle: data}
  - {source: write, sourceHandle: rowCount, target: output, targetHandle: written}
"""

PEAK = """
def peak_kb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource, sys
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS
"""

FLOW_RUNNER = PEAK + """
import json, sys, time
sys.path.insert(0, {work!r})
import csv_stream_flow as flow
start = time.perf_counter()
out = flow.run(flow.Inputs(source={source!r}, target={target!r}))
elapsed = time.perf_counter() - start
peak = peak_kb()
print(json.dumps({{"seconds": elapsed, "peak_kb": peak, "written": out.written}}))
"""

FLOOR_RUNNER = PEAK + """
import csv, json, time
start = time.perf_counter()
written = 0
with open({source!r}, newline="") as src, open({target!r}, "w", newline="") as dst:
    reader = csv.DictReader(src)
    writer = csv.DictWriter(dst, fieldnames=reader.fieldnames)
    writer.writeheader()
    for row in reader:
        if float(row["amount"]) > 100:
            writer.writerow(row)
            written += 1
elapsed = time.perf_counter() - start
peak = peak_kb()
print(json.dumps({{"seconds": elapsed, "peak_kb": peak, "written": written}}))
"""

BASELINE_RUNNER = PEAK + """
import json, sys
sys.path.insert(0, {work!r})
import csv_stream_flow
print(json.dumps({{"peak_kb": peak_kb()}}))
"""


def make_csv(path: Path, rows: int) -> None:
    rng = random.Random(1)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "customer", "amount", "note"])
        for i in range(rows):
            writer.writerow(
                [
                    i,
                    f"c{rng.randrange(1000)}",
                    f"{rng.uniform(1, 200):.2f}",
                    "x" * rng.randrange(20),
                ]
            )


def measure(script: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="atomiton-csv-"))
    source = work / "orders.csv"
    make_csv(source, args.rows)
    blueprint = work / "csv_stream_flow.yaml"
    blueprint.write_text(BLUEPRINT)
    compiled = compile_blueprint(blueprint, options=CompileOptions(root=work))
    (work / "csv_stream_flow.py").write_text(compiled.code)

    fields = {"work": str(work), "source": str(source)}
    flow = measure(FLOW_RUNNER.format(target=str(work / "flow_out.csv"), **fields))
    floor = measure(FLOOR_RUNNER.format(target=str(work / "floor_out.csv"), **fields))
    baseline = measure(BASELINE_RUNNER.format(**fields))
    assert (work / "flow_out.csv").read_bytes() == (work / "floor_out.csv").read_bytes()

    size_mb = source.stat().st_size / 1e6
    print(
        f"{args.rows:,} rows, {size_mb:.0f} MB of CSV; both outputs identical ({int(flow['written']):,} rows kept)\n"
    )
    print("| runner | seconds | rows/s | peak RSS MB | RSS over interpreter+imports MB |")
    print("|---|---|---|---|---|")
    for name, row in (
        ("floor: csv module by hand", floor),
        ("compiled flow (stream: true, transform filter)", flow),
    ):
        over = (
            (row["peak_kb"] - baseline["peak_kb"]) / 1024
            if name.startswith("compiled")
            else float("nan")
        )
        print(
            f"| {name} | {row['seconds']:.2f} | {args.rows / row['seconds']:,.0f} | "
            f"{row['peak_kb'] / 1024:.1f} | {over:.1f} |"
        )
    print(
        textwrap.dedent(
            f"""
        Goal: peak memory under 100 MB whatever the row count (imports alone: {baseline['peak_kb'] / 1024:.1f} MB)."""
        )
    )


if __name__ == "__main__":
    main()
