#!/usr/bin/env python3
"""README's performance chart: throughput and p99 of plain Kestrel, WorkerHosting and gunicorn+uvicorn (from a
load.py run's results.json), and the requests that failed during one deploy under load (from a deploy.py run's
deploy.json), stamped with the date and the machine they were measured on.

usage: chart.py LOAD_RESULTS_DIR DEPLOY_RESULTS_DIR OUTPUT.png
"""
import datetime
import json
import os
import platform
import sys


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}"


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    load_dir, deploy_dir, output = sys.argv[1:]
    with open(os.path.join(load_dir, "results.json")) as file:
        load = json.load(file)
    with open(os.path.join(deploy_dir, "deploy.json")) as file:
        deploy = json.load(file)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = load["summary"]
    servers = list(summary.keys())
    scenarios = list(next(iter(summary.values()))["scenarios"].keys())
    fig, (rps, p99, failed) = plt.subplots(3, 1, figsize=(12, 11))
    width = 0.8 / len(servers)
    for i, server in enumerate(servers):
        xs = [x + i * width for x in range(len(scenarios))]
        rps.bar(xs, [summary[server]["scenarios"][s]["rps"] for s in scenarios], width, label=server)
        p99.bar(xs, [summary[server]["scenarios"][s]["p99"] for s in scenarios], width, label=server)
    for axis, label in ((rps, "requests/s (higher is better)"), (p99, "p99 latency, ms (lower is better)")):
        axis.set_xticks([x + 0.4 - width / 2 for x in range(len(scenarios))])
        axis.set_xticklabels(scenarios)
        axis.set_ylabel(label)
        axis.grid(axis="y", alpha=0.3)
    rps.legend(fontsize=8)
    rps.set_title(f"Load: wrk -c{load['connections']} on 127.0.0.1, {load['duration']} s per scenario, "
                  f"medians of {load['rounds']} interleaved rounds")

    names = sorted({key.split("|")[0] for key in deploy["failed"]})
    kinds = sorted({key.split("|")[1] for key in deploy["failed"]})
    width = 0.8 / len(kinds)
    for i, kind in enumerate(kinds):
        xs = [x + i * width for x in range(len(names))]
        values = [deploy["failed"][f"{name}|{kind}"] for name in names]
        bars = failed.bar(xs, [max(v, 0.5) for v in values], width, label=kind)
        for bar, value in zip(bars, values):
            failed.annotate(f"{value:,.0f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=8)
    failed.set_yscale("log")
    failed.set_xticks([x + 0.4 - width / 2 for x in range(len(names))])
    failed.set_xticklabels(names, fontsize=8)
    failed.set_ylabel("failed requests (log scale; 0 drawn at 0.5)")
    failed.legend(fontsize=8)
    failed.set_title(f"One deploy under load (wrk -c{deploy['connections']}, {deploy['duration']} s, deploy at "
                     f"{deploy['at']:g} s): failed requests, medians of {deploy['rounds']} rounds")
    fig.suptitle(f"Measured {datetime.date.today()} on {machine()}; client and servers share the machine", fontsize=9)
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    print(f"Written {output}")


if __name__ == "__main__":
    main()
