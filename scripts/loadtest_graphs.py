"""The load test's graphs (matplotlib, drawn from the run's CSV files).

- latency.png: p50 / p95 / p99 of all requests over time (Locust's 10 s window);
- errors.png: failed requests per second and the error rate over time;
- queue.png: bulk queue depth (waiting, in flight) and the predict queue over time;
- workers.png: bulk workers alive and busy over time, with the scaler's decisions;
- throughput_vs_workers.png (throughput scenario): images/s against worker count.
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _f(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def draw(out: Path, scenario: str, summary: dict) -> list[Path]:
    made: list[Path] = []
    history = [r for r in _rows(out / "locust_stats_history.csv") if r["Name"] == "Aggregated"]
    if history:
        t0 = _f(history[0]["Timestamp"])
        t = [_f(r["Timestamp"]) - t0 for r in history]
        fig, ax = plt.subplots(figsize=(8, 4))
        for p, style in (("50%", "-"), ("95%", "--"), ("99%", ":")):
            ax.plot(t, [_f(r[p]) for r in history], style, label=f"p{p[:-1]}")
        ax.set(
            title=f"{scenario}: response time (all requests, 10 s window)",
            xlabel="seconds",
            ylabel="ms",
        )
        ax.set_yscale("log")
        ax.legend()
        _save(fig, out / "latency.png")
        made.append(out / "latency.png")

        fig, ax = plt.subplots(figsize=(8, 3.5))
        rps = [_f(r["Requests/s"]) for r in history]
        fails = [_f(r["Failures/s"]) for r in history]
        rate = [100 * f / r if r else 0.0 for f, r in zip(fails, rps, strict=True)]
        ax.plot(t, rps, label="requests/s")
        ax.plot(t, fails, label="failures/s")
        ax.set(title=f"{scenario}: requests and errors", xlabel="seconds", ylabel="per second")
        ax2 = ax.twinx()
        ax2.plot(t, rate, "r:", label="error rate %")
        ax2.set_ylabel("error rate %")
        ax2.set_ylim(0, max(5.0, max(rate, default=0) * 1.2))
        ax.legend(loc="upper left")
        ax2.legend(loc="upper right")
        _save(fig, out / "errors.png")
        made.append(out / "errors.png")

    samples = _rows(out / "samples.csv")
    if samples:
        t = [_f(r["t"]) for r in samples]
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.plot(t, [_f(r["queue_visible"]) for r in samples], label="bulk: waiting")
        ax.plot(t, [_f(r["queue_in_flight"]) for r in samples], label="bulk: in flight")
        ax.plot(t, [_f(r["predict_queue"]) for r in samples], label="predict queue")
        ax.set(title=f"{scenario}: queue depth (messages = shards)", xlabel="seconds")
        ax.legend()
        _save(fig, out / "queue.png")
        made.append(out / "queue.png")

        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.step(t, [_f(r["workers"]) for r in samples], where="post", label="bulk workers")
        ax.step(t, [_f(r["workers_busy"]) for r in samples], where="post", label="busy")
        for event in summary.get("scale_events", []):
            ax.axvline(event["t"], color="grey", linestyle=":", linewidth=1)
            ax.annotate(
                f"scale {event['action']}\nbacklog {event['backlog']}",
                (event["t"], event["after"]),
                fontsize=7,
            )
        ax.set(title=f"{scenario}: workers over time", xlabel="seconds", ylabel="processes")
        ax.set_ylim(0, 5)
        ax2 = ax.twinx()
        ax2.plot(t, [_f(r["images_processed"]) for r in samples], "g:", label="images done")
        ax2.set_ylabel("images done (cumulative)")
        ax.legend(loc="upper left")
        ax2.legend(loc="upper right")
        _save(fig, out / "workers.png")
        made.append(out / "workers.png")

    runs = summary.get("runs")
    if runs:
        fig, ax = plt.subplots(figsize=(6, 4))
        for shape, marker in (("one big job", "o-"), ("many small jobs", "s--")):
            points = [r for r in runs if r["shape"] == shape]
            ax.plot(
                [r["workers"] for r in points],
                [r["images_per_s"] for r in points],
                marker,
                label=shape,
            )
        base = next((r["images_per_s"] for r in runs if r["workers"] == 1), None)
        if base:
            ax.plot([1, 2, 4], [base, 2 * base, 4 * base], "k:", linewidth=1, label="linear")
        ax.set(
            title="throughput vs bulk workers",
            xlabel="workers",
            ylabel="images/s",
            xticks=[1, 2, 4],
        )
        ax.legend()
        _save(fig, out / "throughput_vs_workers.png")
        made.append(out / "throughput_vs_workers.png")
    return made
