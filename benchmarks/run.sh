#!/usr/bin/env bash
# One command for the benchmarks: installs what they need (Debian packages), builds the bench app in Release, and
# runs benchmarks/load.py (arguments: --rounds, --duration, --no-gunicorn) or, with --lifecycle first,
# benchmarks/lifecycle.py (arguments: --reloads, --duration), or, with --deploy first, benchmarks/deploy.py (one deploy
# under load: WorkerHosting SIGHUP, gunicorn HUP, plain Kestrel stop and start; arguments: --rounds), or, with --realworld first, builds
# tests/TestApps/RealWorldApp in Release and runs benchmarks/realworld.py (arguments: --workers, --reloads, --rate),
# or, with --chart first, runs load.py (its arguments) and deploy.py and draws README's chart, docs/performance.png.
# Results: benchmarks/results/<time>/ (results.md, results.json, chart.png), benchmarks/results/lifecycle-<time>/ and
# benchmarks/results/realworld-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
/usr/bin/python3 -c 'import gunicorn, uvicorn' 2>/dev/null || missing+=(python3-gunicorn python3-uvicorn)
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || missing+=(python3-matplotlib)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! { $sudo apt-get install -y "${missing[@]}" >/dev/null 2>&1 || { $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y "${missing[@]}" >/dev/null 2>&1; }; }; then
    echo "could not install ${missing[*]} (no apt, or no permission): what is missing is skipped" >&2
  fi
fi
command -v wrk >/dev/null || { echo "wrk is required" >&2; exit 1; }

if [ "${1:-}" = "--chart" ]; then
  # README's chart: the load benchmark and one deploy under load, then docs/performance.png from both.
  shift
  dotnet build benchmarks/BenchApp -c Release -v q -nologo
  /usr/bin/python3 benchmarks/load.py "$@"
  load_dir=$(ls -d benchmarks/results/2* | sort | tail -1)
  /usr/bin/python3 benchmarks/deploy.py
  deploy_dir=$(ls -d benchmarks/results/2* | sort | tail -1)
  exec /usr/bin/python3 benchmarks/chart.py "$load_dir" "$deploy_dir" docs/performance.png
fi
if [ "${1:-}" = "--realworld" ]; then
  shift
  dotnet build tests/TestApps/RealWorldApp -c Release -v q -nologo
  exec /usr/bin/python3 benchmarks/realworld.py "$@"
fi
dotnet build benchmarks/BenchApp -c Release -v q -nologo
if [ "${1:-}" = "--lifecycle" ]; then
  shift
  exec /usr/bin/python3 benchmarks/lifecycle.py "$@"
fi
if [ "${1:-}" = "--deploy" ]; then
  shift
  exec /usr/bin/python3 benchmarks/deploy.py "$@"
fi
exec /usr/bin/python3 benchmarks/load.py "$@"
