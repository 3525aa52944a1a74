#!/usr/bin/python3
"""Deploy under load: one deploy in the middle of a 10 s wrk run, with a new connection per request and with keep-alive.

- WorkerHosting (BenchApp, UseWorkers(2)): SIGHUP, a rolling reload in the same process.
- gunicorn + uvicorn workers (-w 2), Debian's python3: SIGHUP (gunicorn starts new workers, then stops the old ones).
- plain Kestrel (BenchApp without workers): what a deploy is without WorkerHosting, stop the process (SIGTERM), then
  start the new one on the same port.

Reports, per server and scenario, the failed requests (wrk's socket errors and non-2xx responses) and the longest
latency, medians over interleaved rounds, as a markdown table in benchmarks/results/<time>/deploy.md.
Run it with benchmarks/run.sh --deploy (which installs wrk, gunicorn and uvicorn from Debian packages).
"""
import argparse
import json
import datetime
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import BENCH_APP, DEBIAN_PYTHON, ROOT, Server, to_ms, wait_for_port  # noqa: E402

SCENARIOS = [("new-connection", True), ("keep-alive", False)]


def wrk(port, close, duration, connections, output):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", f"http://127.0.0.1:{port}/plaintext"]
    if close:
        command[1:1] = ["-H", "Connection: close"]
    output.append(subprocess.run(command, capture_output=True, text=True, timeout=duration + 60).stdout)


def parse(text):
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    latency = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", text)
    return {"requests": requests, "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
            "max_ms": to_ms(latency.group(1)) if latency else float("nan")}


def deploy(server):
    """One deploy of the running server; returns the server that serves afterwards."""
    if server.name.startswith("plain"):
        port = server.port
        server.stop()
        fresh = Server(server.name, workers=0, app=server.app)
        fresh.port = port
        command = ["dotnet", fresh.app, "--urls", f"http://127.0.0.1:{port}", "--Bench:Workers=0", "--Logging:LogLevel:Default=Warning"]
        fresh.process = subprocess.Popen(command, cwd=os.path.dirname(fresh.app), stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(port, fresh.process)
        return fresh
    os.kill(server.process.pid, signal.SIGHUP)
    return server


def run_once(server, close, duration, at, connections):
    server.start()
    try:
        subprocess.run(["wrk", "-t1", "-c8", "-d1s", f"http://127.0.0.1:{server.port}/plaintext"], capture_output=True)
        output = []
        load = threading.Thread(target=wrk, args=(server.port, close, duration, connections, output))
        load.start()
        time.sleep(at)
        server = deploy(server)
        load.join()
        return parse(output[0])
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk")
    parser.add_argument("--at", type=float, default=3.0, help="seconds into the run when the deploy happens")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--no-gunicorn", action="store_true")
    parser.add_argument("--app", default=BENCH_APP, help="BenchApp.dll to run")
    args = parser.parse_args()

    servers = [("WorkerHosting (2 workers), SIGHUP", dict(workers=2)), ("plain Kestrel, stop and start", dict(workers=0))]
    if not args.no_gunicorn:
        if subprocess.run([DEBIAN_PYTHON, "-c", "import gunicorn, uvicorn"], capture_output=True).returncode == 0:
            servers.insert(1, ("gunicorn+uvicorn (-w 2), SIGHUP", dict(gunicorn=True)))
        else:
            print("gunicorn/uvicorn are not installed for Debian's python3; skipping the peer", file=sys.stderr)

    results = {}
    for round_number in range(args.rounds):
        order = servers[round_number % len(servers):] + servers[:round_number % len(servers)]
        for scenario, close in SCENARIOS:
            for name, kwargs in order:
                server = Server(name, app=args.app, **kwargs)
                result = run_once(server, close, args.duration, args.at, args.connections)
                results.setdefault((name, scenario), []).append(result)
                print(f"round {round_number + 1} {name} {scenario}: {result}", file=sys.stderr)

    lines = [
        f"Deploy under load, measured {datetime.date.today()} on {os.cpu_count()} cores: wrk -t2 -c{args.connections} "
        f"{args.duration} s on /plaintext, one deploy at {args.at:g} s; medians of {args.rounds} interleaved rounds "
        "(range in brackets). Client and servers share the machine.",
        "",
        "| server | scenario | requests | failed | longest latency ms |",
        "|---|---|---|---|---|",
    ]
    for name, _ in servers:
        for scenario, _ in SCENARIOS:
            runs = results[(name, scenario)]
            errors = [r["errors"] for r in runs]
            lines.append(f"| {name} | {scenario} | {statistics.median(r['requests'] for r in runs):,.0f} | "
                         f"{statistics.median(errors):,.0f} [{min(errors):,}–{max(errors):,}] | "
                         f"{statistics.median(r['max_ms'] for r in runs):,.0f} |")
    table = "\n".join(lines)
    print(table)
    directory = os.path.join(ROOT, "benchmarks", "results", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "deploy.md"), "w") as file:
        file.write(table + "\n")
    with open(os.path.join(directory, "deploy.json"), "w") as file:
        json.dump({"rounds": args.rounds, "duration": args.duration, "connections": args.connections, "at": args.at,
                   "failed": {f"{name}|{scenario}": statistics.median(r["errors"] for r in results[(name, scenario)])
                              for name, _ in servers for scenario, _ in SCENARIOS}}, file, indent=2)
    print(f"Written to {directory}")


if __name__ == "__main__":
    main()
