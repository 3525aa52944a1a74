#!/usr/bin/python3
"""Lifecycle benchmark (process level): worker boot and unload times, rolling reload duration for 2 and 4 workers,
requests failed and p99 latency while reloading under load versus steady state, and RSS after 50 reloads versus
after the first (a leak shows there). Drives benchmarks/BenchApp with UseWorkers(n) and wrk on 127.0.0.1.

Run it with benchmarks/run.sh --lifecycle (which installs wrk and builds the app first).
"""
import argparse
import datetime
import os
import re
import signal
import statistics
import subprocess
import threading
import time

from load import BENCH_APP, ROOT, free_port, run_wrk, wait_for_port

TIMESTAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) ")


class App:
    """BenchApp with workers, its log read line by line (timestamps in milliseconds)."""

    def __init__(self, workers, env=None, app=None):
        app = app or BENCH_APP
        self.port = free_port()
        self.lines = []
        self.changed = threading.Condition()
        self.process = subprocess.Popen(
            ["dotnet", app, "--urls", f"http://127.0.0.1:{self.port}", f"--Bench:Workers={workers}",
             "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:WorkerHosting=Information",
             "--Logging:Console:FormatterName=simple", "--Logging:Console:FormatterOptions:SingleLine=true",
             "--Logging:Console:FormatterOptions:TimestampFormat=HH:mm:ss.fff "],
            cwd=os.path.dirname(app), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, env={**os.environ, **(env or {})})
        threading.Thread(target=self._read, daemon=True).start()
        wait_for_port(self.port, self.process)
        self.wait_for(r"workers are ready", 1)

    def _read(self):
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def count(self, pattern):
        with self.changed:
            return sum(1 for line in self.lines if re.search(pattern, line))

    def wait_for(self, pattern, count, timeout=120):
        deadline = time.monotonic() + timeout
        with self.changed:
            while sum(1 for line in self.lines if re.search(pattern, line)) < count:
                if not self.changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"waited for {count} lines like {pattern!r}")

    def matches(self, pattern):
        with self.changed:
            return [m for m in (re.search(pattern, line) for line in self.lines) if m]

    def reload(self):
        done = self.count(r"Reloaded \d+ workers in")
        self.process.send_signal(signal.SIGHUP)
        self.wait_for(r"Reloaded \d+ workers in", done + 1)

    def rss_mb(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def millis(line):
    h, m, s, f = map(int, TIMESTAMP.match(line).groups())
    return ((h * 60 + m) * 60 + s) * 1000 + f


def unload_times(app):
    """From "Worker n (generation g) stopped" to "... was unloaded." for each worker that was replaced."""
    with app.changed:
        lines = list(app.lines)
    stopped = {}
    times = []
    for line in lines:
        if (m := re.search(r"Worker (\d+) \(generation (\d+)\) stopped in", line)) and TIMESTAMP.match(line):
            stopped[m.groups()] = millis(line)
        elif (m := re.search(r"Worker (\d+) \(generation (\d+)\) was unloaded\.", line)) and m.groups() in stopped:
            times.append(millis(line) - stopped[m.groups()])
    return times


def compiled_by_kind(lines):
    """Counts the runtime's "JIT compiled <method> [tier ...]" lines: the bench app's own methods, dynamic methods
    (emitted at run time), and the rest (shared framework and WorkerHosting code, compiled in the default context)."""
    kinds = {"shared": 0, "app": 0, "dynamic": 0}
    for line in lines:
        if "JIT compiled " not in line:
            continue
        method = line.split("JIT compiled ", 1)[1]
        if method.startswith("(dynamicClass)"):
            kinds["dynamic"] += 1
        elif re.match(r"(Program|BenchHost|Message)\b", method):
            kinds["app"] += 1
        else:
            kinds["shared"] += 1
    return kinds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reloads", type=int, default=50, help="the reload count the RSS target is read at")
    parser.add_argument("--rss-reloads", type=int, default=150, help="reloads in the RSS run (shows whether it levels off)")
    parser.add_argument("--window", type=int, default=10, help="reloads between RSS samples")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load, steady and while reloading")
    parser.add_argument("--app", default=BENCH_APP, help="BenchApp.dll to run (another tree's build, say)")
    args = parser.parse_args()
    if args.rss_reloads < args.window:
        parser.error("--rss-reloads must be at least --window")
    rows = []

    # Reload duration for 2 and 4 workers; boot and unload times; p99 and failures under load.
    for workers in (2, 4):
        app = App(workers, app=args.app)
        try:
            run_wrk(app.port, "/plaintext", True, 3, 64)  # warm-up
            steady = run_wrk(app.port, "/plaintext", True, args.duration, 64)

            # The same load while reloading back to back.
            result = {}
            load = threading.Thread(target=lambda: result.update(run_wrk(app.port, "/plaintext", True, args.duration, 64)))
            start = time.monotonic()
            load.start()
            reloads = 0
            while time.monotonic() - start < args.duration - 1:
                app.reload()
                reloads += 1
            load.join()

            durations = [int(m.group(1)) for m in app.matches(r"Reloaded \d+ workers in (\d+) ms")]
            boots = [int(m.group(1)) for m in app.matches(r"is ready in (\d+) ms")]
            unloads = unload_times(app)
            leaked = app.count(r"still alive")
            rows.append((workers, steady, result, reloads, durations, boots, unloads, leaked))
        finally:
            app.stop()

    # RSS after many reloads (4 workers), and what the JIT compiled along the way: the runtime writes one line per
    # method it compiles (DOTNET_JitStdOutFile + DOTNET_JitDisasmSummary), so each window shows how much shared
    # framework code was still tiering up (growth that levels off) next to the app's own code (the same every window).
    out = os.path.join(ROOT, "benchmarks", "results", "lifecycle-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    jit_log = os.path.join(out, "jit.txt")
    app = App(4, {"DOTNET_JitStdOutFile": jit_log, "DOTNET_JitDisasmSummary": "1"}, app=args.app)
    try:
        app.reload()
        time.sleep(1)
        rss_first = app.rss_mb()
        trend = []
        jit_read = os.path.getsize(jit_log)
        for number in range(2, args.rss_reloads + 1):
            app.reload()
            if number % args.window == 0:
                time.sleep(1)  # let the runtime's background tier-up of the window finish
                with open(jit_log, "rb") as log:
                    log.seek(jit_read)
                    written = log.read()
                jit_read += len(written)
                compiled = written.decode(errors="replace").splitlines()
                trend.append((number, app.rss_mb(), compiled_by_kind(compiled)))
        leaked = app.count(r"still alive")
    finally:
        app.stop()

    median = statistics.median
    lines = [f"Measured {datetime.date.today()} on {os.cpu_count()} cores; BenchApp (Release"
             f"{'' if args.app == BENCH_APP else ', ' + args.app}), wrk -t2 -c64 with a new "
             f"connection per request, {args.duration} s steady and {args.duration} s while reloading back to back.", "",
             "| workers | reload duration, median (min-max) ms | reloads under load | requests (steady / reloading) | "
             "failed while reloading | p99 steady ms | p99 reloading ms | × steady | worker boot median ms | "
             "unload median ms | contexts alive |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for workers, steady, during, reloads, durations, boots, unloads, leaked in rows:
        lines.append(
            f"| {workers} | {median(durations):.0f} ({min(durations)}-{max(durations)}) | {reloads} | "
            f"{steady['rps'] * args.duration:,.0f} / {during['rps'] * args.duration:,.0f} | {during['errors']} | "
            f"{steady['p99']:.2f} | {during['p99']:.2f} | {during['p99'] / steady['p99']:.2f} | {median(boots):.0f} | "
            f"{median(unloads) if unloads else float('nan'):.0f} | {leaked} |")
    rss = {number: mb for number, mb, _ in trend}
    at = min(rss, key=lambda n: abs(n - args.reloads))
    last = max(rss)
    before_last = min(rss, key=lambda n: abs(n - (last - args.reloads)))
    lines += ["", f"RSS with 4 workers (1 s after a reload) after the first reload: {rss_first:.1f} MB; after {at} reloads: "
              f"{rss[at]:.1f} MB ({(rss[at] / rss_first - 1) * 100:+.1f}%); after {last}: {rss[last]:.1f} MB "
              f"({(rss[last] / rss_first - 1) * 100:+.1f}%). Over the last {last - before_last} reloads: "
              f"{(rss[last] / rss[before_last] - 1) * 100:+.1f}% (a leak keeps growing here; warm-up levels off). "
              f"Load contexts still alive: {leaked}.", "",
              f"| reloads | RSS MB | methods compiled in the window: shared framework and library | app (per worker boot) | "
              f"dynamic methods |", "|---|---|---|---|---|"]
    lines += [f"| {number} | {mb:.1f} | {kinds['shared']} | {kinds['app']} | {kinds['dynamic']} |" for number, mb, kinds in trend]
    markdown = "\n".join(lines) + "\n"

    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown)
    print(markdown)
    print(f"Written to {out}")


if __name__ == "__main__":
    main()
