#!/usr/bin/python3
"""Load benchmark: the same app on plain Kestrel, with UseWorkers(1), (2) and (4), and gunicorn with uvicorn workers
(-w 2) as the peer, each driven by wrk on 127.0.0.1, interleaved over several rounds.

Scenarios: keep-alive and a new connection per request (Connection: close), plain text and a small JSON response,
64 connections each. Reports requests/s, p50 and p99 latency and peak RSS, with ratios to plain Kestrel measured in
the same rounds (medians over rounds), as a markdown table and a PNG chart in benchmarks/results/<time>/.

Run it with benchmarks/run.sh (which installs wrk, gunicorn, uvicorn and matplotlib from Debian packages).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Another tree's build (say, the library before a change) through BENCH_APP=/path/to/BenchApp.dll, or --baseline-app.
BENCH_APP = os.environ.get("BENCH_APP") or os.path.join(ROOT, "artifacts", "bin", "BenchApp", "release", "BenchApp.dll")
PYTHON_APP_DIR = os.path.join(ROOT, "benchmarks", "python")
DEBIAN_PYTHON = "/usr/bin/python3"

SCENARIOS = [
    ("plaintext keep-alive", "/plaintext", False),
    ("json keep-alive", "/json", False),
    ("plaintext new-connection", "/plaintext", True),
    ("json new-connection", "/json", True),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port} after {timeout} s")


class Server:
    def __init__(self, name, workers=None, gunicorn=False, app=None, extra_args=(), counters=None):
        self.name, self.workers, self.gunicorn, self.app = name, workers, gunicorn, app or BENCH_APP
        self.extra_args, self.counters, self.monitor = list(extra_args), counters, None

    def start(self):
        self.port = free_port()
        if self.gunicorn:
            command = [DEBIAN_PYTHON, "-m", "gunicorn", "-k", "uvicorn.workers.UvicornWorker", "app:app",
                       "-w", "2", "-b", f"127.0.0.1:{self.port}", "--log-level", "warning"]
            self.process = subprocess.Popen(command, cwd=PYTHON_APP_DIR, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
        else:
            command = ["dotnet", self.app, "--urls", f"http://127.0.0.1:{self.port}",
                       f"--Bench:Workers={self.workers}", "--Logging:LogLevel:Default=Warning", *self.extra_args]
            self.process = subprocess.Popen(command, cwd=os.path.dirname(self.app), stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(self.port, self.process)
        # The coordinator binds before its workers are ready: wait until a request is served.
        deadline = time.monotonic() + 60
        while subprocess.run(["curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{self.port}/plaintext"]).returncode != 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} serves no request")
            time.sleep(0.05)
        if self.counters:
            # A listener attached from outside, as an operator does: dotnet-counters' EventPipe session enables the
            # meters' instruments in the process.
            tool = shutil.which("dotnet-counters") or os.path.expanduser("~/.dotnet/tools/dotnet-counters")
            try:
                self.monitor = subprocess.Popen([tool, "collect", "-p", str(self.process.pid), "--counters",
                                                 self.counters, "--format", "csv", "-o", os.devnull],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            except OSError:
                self.stop()
                raise
            time.sleep(2)

    def cpu_seconds(self):
        """User plus system CPU time the server process has used so far (workers are threads of it)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self):
        """VmHWM of the process (and, for gunicorn, of its workers: their peaks added)."""
        pids = [self.process.pid]
        try:
            children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
            pids += [int(p) for p in children.split()]
        except OSError:
            pass
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            total += int(line.split()[1])
            except FileNotFoundError:
                pass
        return total / 1024

    def stop(self):
        if self.monitor:
            os.killpg(self.monitor.pid, signal.SIGINT)
            try:
                self.monitor.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.monitor.pid, signal.SIGKILL)
                self.monitor.wait()
            self.monitor = None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def to_ms(value):
    number, unit = float(re.match(r"[\d.]+", value).group()), re.sub(r"[\d.]+", "", value)
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(port, path, close, duration, connections):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", f"http://127.0.0.1:{port}{path}"]
    if close:
        command[1:1] = ["-H", "Connection: close"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", output).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rps, "p50": p50, "p99": p99, "requests": requests,
            "errors": errors + (int(non2xx.group(1)) if non2xx else 0)}


def median(values):
    return statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per scenario")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up load per endpoint per server start")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--no-gunicorn", action="store_true")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure besides plain Kestrel, e.g. 4")
    parser.add_argument("--baseline-app", help="another build of BenchApp.dll (say, the library before a change): its "
                        "UseWorkers(n) servers join the same interleaved rounds, named with --baseline-name")
    parser.add_argument("--baseline-name", default="before")
    parser.add_argument("--variant", action="append", default=[],
                        help="another BenchApp server in the rounds, 'name|workers|args|counters' (args space-separated, "
                        "counters: what dotnet-counters collect attaches to, optional), e.g. "
                        "'UseWorkers(2) + OTel|2|--Bench:OpenTelemetry=usual' or 'UseWorkers(2) + counters|2||WorkerHosting'")
    parser.add_argument("--scenario", action="append", default=[],
                        help="only the scenarios whose name contains this (repeatable), e.g. 'json keep-alive'")
    args = parser.parse_args()
    args.scenarios = [s for s in SCENARIOS if not args.scenario or any(f in s[0] for f in args.scenario)]
    if not args.scenarios:
        parser.error(f"no scenario matches {args.scenario}; scenarios: {', '.join(s[0] for s in SCENARIOS)}")

    servers = [Server("plain Kestrel", workers=0)]
    counts = sorted({int(n) for n in args.workers.split(",") if n.strip()})
    servers += [Server(f"UseWorkers({n})", workers=n) for n in counts]
    if args.baseline_app:
        servers += [Server(f"UseWorkers({n}) {args.baseline_name}", workers=n, app=os.path.abspath(args.baseline_app))
                    for n in counts]
    for variant in args.variant:
        name, workers, extra, counters = (variant.split("|") + ["", "", ""])[:4]
        servers.append(Server(name, workers=int(workers or 0), extra_args=extra.split(), counters=counters or None))
    if not args.no_gunicorn:
        if subprocess.run([DEBIAN_PYTHON, "-c", "import gunicorn, uvicorn"], capture_output=True).returncode == 0:
            servers.append(Server("gunicorn+uvicorn -w 2", gunicorn=True))
        else:
            print("gunicorn or uvicorn is not installed for Debian's python3 (apt-get install python3-gunicorn "
                  "python3-uvicorn): the peer is skipped.", file=sys.stderr)

    results = {s.name: {name: [] for name, _, _ in args.scenarios} for s in servers}
    rss = {s.name: [] for s in servers}
    for round_number in range(1, args.rounds + 1):
        # Interleaved: every server once per round, in an order that rotates, so drift hits all alike.
        order = servers[round_number - 1:] + servers[:round_number - 1]
        for server in order:
            server.start()
            try:
                # Warm both endpoints (JIT tiering) before measuring.
                for path in sorted({path for _, path, _ in args.scenarios}):
                    run_wrk(server.port, path, False, args.warmup, args.connections)
                for name, path, close in args.scenarios:
                    cpu_before = None if server.gunicorn else server.cpu_seconds()
                    result = run_wrk(server.port, path, close, args.duration, args.connections)
                    # The server's CPU time per request: what a request costs, less sensitive than req/s to what else
                    # runs on the machine (wrk, other processes).
                    result["cpu_us"] = (float("nan") if cpu_before is None
                                        else (server.cpu_seconds() - cpu_before) * 1e6 / max(result["requests"], 1))
                    results[server.name][name].append(result)
                    print(f"round {round_number} {server.name:24} {name:26} {result['rps']:10.0f} req/s "
                          f"p50 {result['p50']:7.2f} ms p99 {result['p99']:7.2f} ms cpu {result['cpu_us']:6.1f} us/req "
                          f"errors {result['errors']}",
                          flush=True)
                rss[server.name].append(server.peak_rss_mb())
            finally:
                server.stop()

    # Ratios are paired by round (each server against plain Kestrel of the same round), so drift between rounds cancels;
    # their median is the figure, their range shows how much this machine moves from one round to the next.
    summary = {}
    for server in servers:
        summary[server.name] = {"peak_rss_mb": median(rss[server.name]), "scenarios": {}}
        for name, _, _ in args.scenarios:
            runs, base = results[server.name][name], results["plain Kestrel"][name]
            ratios = [r["rps"] / b["rps"] for r, b in zip(runs, base)]
            p99_ratios = [r["p99"] / b["p99"] for r, b in zip(runs, base)]
            cpu_ratios = [r["cpu_us"] / b["cpu_us"] for r, b in zip(runs, base)]
            summary[server.name]["scenarios"][name] = {
                "rps": median([r["rps"] for r in runs]),
                "p50": median([r["p50"] for r in runs]),
                "p99": median([r["p99"] for r in runs]),
                "errors": sum(r["errors"] for r in runs),
                "ratio": median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                "p99_ratio": median(p99_ratios),
                "cpu_us": median([r["cpu_us"] for r in runs]), "cpu_ratio": median(cpu_ratios),
                "cpu_ratio_min": min(cpu_ratios), "cpu_ratio_max": max(cpu_ratios),
            }

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = os.path.join(ROOT, "benchmarks", "results", stamp)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"rounds": args.rounds, "duration": args.duration, "connections": args.connections,
                   "raw": results, "rss": rss, "summary": summary}, f, indent=2)

    args.raw = results
    markdown = render_markdown(summary, servers, args)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown)
    print()
    print(markdown)
    chart = render_chart(summary, servers, args.scenarios, os.path.join(out, "chart.png"))
    print(f"Written to {out}" + ("" if chart else " (no chart: python3-matplotlib is not installed)"))


def render_markdown(summary, servers, args):
    base = summary["plain Kestrel"]
    cpu = platform.processor() or platform.machine()
    lines = [
        f"Measured {datetime.date.today()} on {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; "
        f"wrk -t2 -c{args.connections}, {args.duration} s per scenario, medians of {args.rounds} interleaved rounds; "
        "client and server share the machine. × plain: the median over rounds of the ratio to plain Kestrel measured in "
        "the same round, with its lowest and highest round.",
        "",
        "| server | scenario | req/s | × plain | rounds' range | p50 ms | p99 ms | p99 × plain | CPU µs/req | × plain | rounds' range | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for server in servers:
        for name, _, _ in args.scenarios:
            s = summary[server.name]["scenarios"][name]
            lines.append(f"| {server.name} | {name} | {s['rps']:,.0f} | {s['ratio']:.2f} | "
                         f"{s['ratio_min']:.2f}–{s['ratio_max']:.2f} | {s['p50']:.2f} | {s['p99']:.2f} | "
                         f"{s['p99_ratio']:.2f} | {s['cpu_us']:.1f} | {s['cpu_ratio']:.2f} | "
                         f"{s['cpu_ratio_min']:.2f}–{s['cpu_ratio_max']:.2f} | {s['errors']} |")
    lines += ["", "| server | peak RSS MB | × plain |", "|---|---|---|"]
    for server in servers:
        r = summary[server.name]["peak_rss_mb"]
        lines.append(f"| {server.name} | {r:.1f} | {r / base['peak_rss_mb']:.2f} |")
    if args.baseline_app:
        # The other build against this one, paired by round as well (its server ran in the same rounds).
        for server in servers:
            if not server.name.endswith(f" {args.baseline_name}"):
                continue
            current = server.name[:-len(args.baseline_name) - 1]
            parts = []
            for name, _, _ in args.scenarios:
                runs, base = args.raw[current][name], args.raw[server.name][name]
                rps = median([r["rps"] / b["rps"] for r, b in zip(runs, base)])
                p99 = median([r["p99"] / b["p99"] for r, b in zip(runs, base)])
                parts.append(f"{name} req/s {rps:.2f}, p99 {p99:.2f}")
            lines += ["", f"{current} ÷ {server.name} (medians of per-round ratios): " + "; ".join(parts) + "."]
    if all(n in summary for n in ("UseWorkers(1)", "UseWorkers(4)")):
        lines += ["", "Throughput from 1 to 4 workers (UseWorkers(4) ÷ UseWorkers(1)): " + ", ".join(
            f"{name} {summary['UseWorkers(4)']['scenarios'][name]['rps'] / summary['UseWorkers(1)']['scenarios'][name]['rps']:.2f}"
            for name, _, _ in args.scenarios) + "."]
    return "\n".join(lines) + "\n"


def render_chart(summary, servers, scenarios, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = [name for name, _, _ in scenarios]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 8))
    width = 0.8 / len(servers)
    for i, server in enumerate(servers):
        xs = [x + i * width for x in range(len(names))]
        top.bar(xs, [summary[server.name]["scenarios"][n]["rps"] for n in names], width, label=server.name)
        bottom.bar(xs, [summary[server.name]["scenarios"][n]["p99"] for n in names], width, label=server.name)
    for axis, label in ((top, "requests/s (higher is better)"), (bottom, "p99 latency, ms (lower is better)")):
        axis.set_xticks([x + 0.4 - width / 2 for x in range(len(names))])
        axis.set_xticklabels(names)
        axis.set_ylabel(label)
        axis.grid(axis="y", alpha=0.3)
    top.legend(fontsize=8)
    top.set_title("WorkerHosting vs plain Kestrel vs gunicorn+uvicorn (wrk on 127.0.0.1, same machine)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


if __name__ == "__main__":
    main()
