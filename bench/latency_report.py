"""The latency harness's report: a markdown summary and a percentile plot (PNG).

Percentiles are read from the HDR histograms the load generators recorded; the plot's x axis
is the usual "1 in N" scale, so the tail gets as much room as the median.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt
from hdrh.histogram import HdrHistogram

PERCENTILES = (50, 90, 99, 99.9)
TARGET_RATIO = 1.25
TARGET_RATE = 20_000
TARGET_P99_US = 2_000
# A step's queue grew when the median of its last third exceeds twice its first third's
# plus this much: a fixed rate the server keeps up with has about the same median throughout.
GROWTH_SLACK_US = 500
# A median this far behind is a queue that formed (in the warm-up, say) and never drained,
# even if it stopped growing: orders are waiting, not being served.
BACKLOG_P50_US = 10_000
KEPT_UP = (
    "every order answered, at least 95 % of the offered rate achieved, a median of at most "
    f"{BACKLOG_P50_US // 1_000} ms, and the median of the step's last third at most twice "
    f"its first third's + {GROWTH_SLACK_US:,} µs (a queue that stands or grows through the "
    "step is saturation, whatever the count says)"
)
GATEWAYS = ("fixgw inline", "fixgw queued")  # the gateway's two order paths, as run names


def write_report(report: dict[str, Any], results: Path) -> str:
    text = markdown(report)
    (results / "latency.md").write_text(text + "\n")
    plot(report, results / "latency.png")
    return text


def markdown(report: dict[str, Any]) -> str:
    params = report["parameters"]
    runs = report["runs"]
    lines = [
        f"# Latency harness — {report['when']}",
        "",
        f"Machine: {report['machine']}. Gateway journal `{params['durability']}`, session "
        f"store `{params['store']}`; closed loop {params['warmup']:,} warm-up + "
        f"{params['orders']:,} measured per session and round, {params['rounds']} rounds "
        "(histograms merged over the rounds), one request in flight per session; "
        f"open loop {params['step_seconds']:g} s per rate after 1 s warm-up, "
        f"{params.get('open_sessions', 8)} sessions. "
        "Latencies in µs from HDR histograms.",
        "",
        "| server | scenario | p50 | p90 | p99 | p99.9 | max | count |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        for scenario, p in run.get("latency_us", {}).items():
            lines.append(
                f"| {name} | {scenario} | {p['p50']:,} | {p['p90']:,} | {p['p99']:,} | "
                f"{p['p99.9']:,} | {p['max']:,} | {p['count']:,} |"
            )
    lines += ["", *ratios(report), *logons(runs), ""]
    for server in ("echo", *GATEWAYS):
        climb = runs.get(f"{server}, open loop")
        if climb:
            lines += [*open_loop(server, climb), ""]
    echo = runs.get("echo, open loop")
    for name in GATEWAYS:
        gateway = runs.get(f"{name}, open loop")
        if echo and gateway and echo["sustained_rate"]:
            lines.append(
                f"- {name} / echo, highest rate kept up with: "
                f"{gateway['sustained_rate'] / echo['sustained_rate']:.2f}"
            )
    problems = report.get("problems") or []
    lines += [
        "",
        "Checks after the runs: "
        + ("; ".join(problems) if problems else "every order answered, none left open")
        + ".",
    ]
    return "\n".join(lines)


def open_loop(server: str, climb: dict[str, Any]) -> list[str]:
    lines = [
        f"Open loop, {server}:",
        "",
        "| offered orders/s | achieved | p50 | p99 | p99.9 | max | every order answered "
        "| p50, first → last third | kept up | client's sends late, p50 / p99 |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    for step in climb["steps"]:
        p = step["latency_us"]
        lag = step["send_lag_us"]
        early, late = step["median_first_last_third_us"]
        lines.append(
            f"| {step['rate']:,} | {step['achieved']:,} | {p['p50']:,} | {p['p99']:,} | "
            f"{p['p99.9']:,} | {p['max']:,} | {'yes' if step['answered'] else 'NO'} | "
            f"{early:,} → {late:,} | {'yes' if step['kept_up'] else 'no'} | "
            f"{lag['p50']:,} / {lag['p99']:,} |"
        )
    sustained = climb["sustained_rate"]
    lines += [
        "",
        f"Kept up: {KEPT_UP}.",
        "",
        f"- highest rate the {server} kept up with: {sustained:,} orders/s"
        + (
            f" (target ≥ {TARGET_RATE:,}: {verdict(sustained >= TARGET_RATE)})"
            if server in GATEWAYS
            else ""
        ),
        f"- highest rate with p99 ≤ 2 ms: {climb['best_rate_p99_under_2ms']:,} orders/s",
    ]
    eighty = climb["at_80_percent"]
    if eighty:
        lines.append(
            f"- at 80 % of the sustained rate: p99 {eighty['latency_us']['p99']:,} µs at "
            f"{eighty['rate']:,} orders/s"
            + (
                f" (target p99 ≤ {TARGET_P99_US:,} µs: "
                f"{verdict(eighty['latency_us']['p99'] <= TARGET_P99_US)})"
                if server in GATEWAYS
                else ""
            )
        )
    return lines


def verdict(met: bool) -> str:
    return "met" if met else "not met"


def ratios(report: dict[str, Any]) -> list[str]:
    """Gateway / echo, order → New: the median of the rounds' ratios (each round's gateway
    against the echo measured beside it), with the rounds' range."""
    out = []
    for name in GATEWAYS:
        for sessions in report["parameters"].get("sessions", [1, 8]):
            rounds = report.get("round_ratios", {}).get(f"{name}, {sessions} session(s)")
            if not rounds:
                continue
            p50s, p99s = sorted(r[0] for r in rounds), sorted(r[1] for r in rounds)
            p50, p99 = statistics.median(p50s), statistics.median(p99s)
            met = verdict(max(p50, p99) <= TARGET_RATIO)
            out.append(
                f"- order → New, {sessions} session(s), {name} / echo, median of "
                f"{len(rounds)} rounds: p50 {p50:.2f}x ({p50s[0]:.2f} to {p50s[-1]:.2f}), "
                f"p99 {p99:.2f}x ({p99s[0]:.2f} to {p99s[-1]:.2f}) "
                f"(target ≤ {TARGET_RATIO}x: {met})"
            )
    runs = report["runs"]
    external = runs.get("external baseline, 1 session(s)", {}).get("latency_us", {}).get("new")
    for name in GATEWAYS:
        gw = runs.get(f"{name}, 1 session(s)", {}).get("latency_us", {}).get("new")
        if external and gw:
            out.append(
                f"- {name} / external baseline, all rounds: p50 "
                f"{gw['p50'] / external['p50']:.2f}x, p99 {gw['p99'] / external['p99']:.2f}x"
            )
    return out


def logons(runs: dict[str, Any]) -> list[str]:
    """What other connections cost one trading session (logons, wrong passwords, half
    messages before a logon): all its requests (orders and cancels) with them alongside
    against without, on the same gateway."""
    out = []
    for name, run in runs.items():
        if "attempts_alongside" not in run:
            continue
        gateway = name.split(", ")[0]
        busy = every_request(run)
        calm = every_request(runs.get(f"{gateway}, 1 session(s)", {}))
        out.append(
            f"- {name} ({run['attempts_alongside']} connections), orders and cancels: "
            f"p99 {busy['p99']:,}, p99.9 {busy['p99.9']:,}, max {busy['max']:,} µs"
            + (f" (without: {calm['p99']:,}, {calm['p99.9']:,}, {calm['max']:,})" if calm else "")
        )
    return out


def every_request(run: dict[str, Any]) -> dict[str, int]:
    """Percentiles of a closed-loop run's orders and cancels together; empty if none."""
    merged: HdrHistogram | None = None
    for scenario in ("new", "cancel"):
        encoded = run.get("histograms", {}).get(scenario)
        if encoded is None:
            continue
        hist = HdrHistogram.decode(encoded.encode())
        if merged is None:
            merged = hist
        else:
            merged.add(hist)
    if merged is None:
        return {}
    return {
        "p99": merged.get_value_at_percentile(99),
        "p99.9": merged.get_value_at_percentile(99.9),
        "max": merged.get_max_value(),
    }


def plot(report: dict[str, Any], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(9, 5.5))
    curves = []
    for name, run in report["runs"].items():
        for scenario, encoded in run.get("histograms", {}).items():
            if scenario in ("new", "cross"):
                curves.append((f"{name}: {scenario}", encoded))
    for name in GATEWAYS:
        eighty = report["runs"].get(f"{name}, open loop", {}).get("at_80_percent")
        if eighty:
            curves.append((f"{name} open loop at {eighty['rate']:,}/s", eighty["histogram"]))
    palette = plt.get_cmap("tab20")
    colours = [palette(i) for i in range(palette.N)]
    for n, (label, encoded) in enumerate(curves):
        hist = HdrHistogram.decode(encoded.encode())
        xs, ys = [], []
        for i in range(0, 400):
            percentile = 100 * (1 - 10 ** (-i / 100))
            if percentile > 99.999:
                break
            xs.append(1 / (1 - percentile / 100))
            ys.append(hist.get_value_at_percentile(percentile))
        # one colour per curve; the server by line style, so the two paths read apart
        style = "-" if "inline" in label else "--" if "queued" in label else ":"
        axes.plot(xs, ys, label=label, color=colours[n % len(colours)], linestyle=style)
    axes.set_xscale("log")
    axes.set_yscale("log")
    ticks = [2, 10, 100, 1_000, 10_000]
    axes.set_xticks(ticks, ["50%", "90%", "99%", "99.9%", "99.99%"])
    axes.set_xlim(1, 10 ** math.ceil(math.log10(max(ticks))))
    axes.set_xlabel("percentile")
    axes.set_ylabel("latency (µs)")
    axes.set_title(f"fixgw latency by percentile — {report['when']}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
