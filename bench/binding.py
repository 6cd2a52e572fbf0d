"""`make bench-binding`: how much of a server's CPU is the SWIG binding around QuickFIX.

Issue 17 asks whether a compiled `FIX::Application` (C++ callbacks instead of SWIG's
director calling Python) would be worth writing. That depends on what the binding itself
costs, which no timer inside the callback can see. This samples the whole server process
with `perf` while the one-session closed loop runs against it — the bare QuickFIX-Python
echo and the gateway on the inline order path, in alternating rounds — and sorts every
sample by where it fell:

- **SWIG binding**: the generated wrappers, the director that calls Python's `fromApp`, and
  SWIG's runtime (the symbols of `_quickfix.so` named `_wrap_*`, `Swig*`, `SWIG_*`);
- **QuickFIX C++**: the rest of `_quickfix.so` (parsing, validation, store, log, sockets);
- **Python**: the interpreter, the standard library's extension modules, and fixgw's
  interpreted modules (whose time the interpreter's samples carry);
- **fixgw compiled**: fixgw's and the engine's Cython modules and the order book;
- **SQLite**, **kernel** and **other** (libc, the allocator, the dynamic loader).

The binding's share times the server's time per request bounds what replacing it could
save. Needs `perf` and permission to sample the server (perf_event_paranoid <= 2 for a
process of one's own).

    python -m bench.binding [--orders N] [--warmup N] [--rounds N] [--frequency HZ]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.book_throughput import RESULTS, machine
from bench.harness import closed, echo_acceptor
from tests.support.launch import GatewayProcess

CATEGORIES = (
    "SWIG binding",
    "QuickFIX C++",
    "Python",
    "fixgw compiled",
    "SQLite",
    "kernel",
    "other",
)
SWIG_MARKS = ("_wrap_", "swig", "SWIG_")


def category(dso: str, symbol: str) -> str:
    """Where one sample fell, from the object it ran in and the symbol's name."""
    if dso.startswith("[kernel"):
        return "kernel"
    if dso.startswith("_quickfix"):
        lowered = symbol.lower()
        return "SWIG binding" if any(m.lower() in lowered for m in SWIG_MARKS) else "QuickFIX C++"
    if "sqlite" in dso:
        return "SQLite"
    if dso.startswith("libpython") or dso.startswith("python3") or dso == "[unknown]":
        return "Python"
    if dso.startswith("_book") or ".cpython-" in dso:
        module = dso.split(".cpython-", 1)[0]
        ours = module in COMPILED_MODULES
        return "fixgw compiled" if ours else "Python"
    return "other"


def compiled_modules() -> frozenset[str]:
    root = Path(__file__).resolve().parent.parent
    return frozenset(
        path.name.split(".cpython-", 1)[0]
        for package in ("engine", "fixgw")
        for path in (root / package).rglob("*.cpython-*.so")
    )


COMPILED_MODULES = compiled_modules()


@contextmanager
def sampled(pid: int, frequency: int, output: Path) -> Iterator[None]:
    recorder = subprocess.Popen(
        ["perf", "record", "-F", str(frequency), "-p", str(pid), "-o", str(output), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        _, err = recorder.communicate(timeout=60)
        if recorder.returncode not in (0, -signal.SIGINT) or not output.exists():
            raise SystemExit(f"perf record failed: {err.decode(errors='replace').strip()}")


def shares(data: Path) -> tuple[dict[str, float], int]:
    """Percent of samples per category, and the sample count."""
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--no-children", "--sort", "dso,sym", "--stdio",
         "-F", "sample,dso,sym", "-q"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    counts: dict[str, int] = defaultdict(int)
    for line in report.splitlines():
        parts = line.split(None, 2)
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        samples, dso, symbol = int(parts[0]), parts[1], parts[2]
        counts[category(dso, symbol.removeprefix("[.] ").removeprefix("[k] "))] += samples
    total = sum(counts.values())
    return {name: 100.0 * counts[name] / max(total, 1) for name in CATEGORIES}, total


def server_pid(port: int) -> int:
    listing = subprocess.run(
        ["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return int(listing.split("pid=", 1)[1].split(",", 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=3_000, help="per round")
    parser.add_argument("--warmup", type=int, default=300, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frequency", type=int, default=4_999, help="samples per second")
    args = parser.parse_args()
    if shutil.which("perf") is None:
        raise SystemExit("perf is not installed: this benchmark samples with it")
    runs: dict[str, list[dict[str, Any]]] = {"echo": [], "fixgw inline": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "fixgw").mkdir()
        gateway = GatewayProcess(
            work / "fixgw",
            extra_args=("--durability", "normal"),  # as `make bench` runs it
            gateway_settings='order_path = "inline"\n',
            bench_sessions=True,
        )
        try:
            with echo_acceptor(work / "echo", "file") as echo_port:
                servers = {"echo": echo_port, "fixgw inline": gateway.port}
                for round_no in range(args.rounds):
                    for name, port in servers.items():
                        data = work / f"{name.split()[0]}-{round_no}.perf"
                        with sampled(server_pid(port), args.frequency, data):
                            result = closed(port, args, 1, cross=False)
                        share, samples = shares(data)
                        p50 = result["latency_us"]["new"]["p50"]
                        runs[name].append({"p50_us": p50, "samples": samples, "share": share})
        finally:
            gateway.stop()
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "parameters": vars(args),
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "binding.json").write_text(json.dumps(report, indent=1))
    print(render(report))


def render(report: dict[str, Any]) -> str:
    runs = report["runs"]
    lines = [
        f"*{report['when']}, {report['machine']}; one session, closed loop, "
        f"{report['parameters']['rounds']} alternating rounds; share of the server "
        "process's samples, median over the rounds*",
        "",
        "| where | " + " | ".join(runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for name in CATEGORIES:
        cells = [f"{_median([r['share'][name] for r in rounds]):.1f} %" for rounds in runs.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    p50s = {name: [r["p50_us"] for r in rounds] for name, rounds in runs.items()}
    lines += ["", "Round trip order → New, p50 per round (µs): " + "; ".join(
        f"{name} {values}" for name, values in p50s.items()
    )]  # fmt: skip
    return "\n".join(lines)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


if __name__ == "__main__":
    main()
