#!/usr/bin/env bash
# Rolling reloads of the sample app under wrk load (a new connection per request), for 2 and 4 workers, and the
# restart latency of a worker that ends on its own (tests/TestApps/MinimalApp, POST /exit).
# Usage: benchmarks/scripts/reload-under-load.sh   (Release builds; binds 127.0.0.1 only; bounded in time)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
dotnet build samples/HelloWorkers -c Release -v q -nologo >/dev/null
dotnet build tests/TestApps/MinimalApp -c Release -v q -nologo >/dev/null
out=$(mktemp -d)
logging=(--Logging:Console:FormatterName=simple --Logging:Console:FormatterOptions:SingleLine=true --Logging:Console:FormatterOptions:TimestampFormat=HH:mm:ss.fff\  --Logging:LogLevel:Microsoft.AspNetCore=Warning)

start() { # dll count log -> pid, url
  dotnet "$1" --urls http://127.0.0.1:0 --Workers:Count="$2" "${logging[@]}" >"$3" 2>&1 &
  pid=$!
  for _ in $(seq 200); do grep -q "workers are ready" "$3" && break; sleep 0.05; done
  url=$(grep -oP 'Now listening on: \K\S+' "$3" | head -1)
}

echo "| workers | reload durations (ms) | requests during 12 s | failed (socket errors + non-2xx) |"
echo "|---|---|---|---|"
for count in 2 4; do
  log="$out/reload-$count.log"
  start artifacts/bin/HelloWorkers/release/HelloWorkers.dll "$count" "$log"
  wrk -t2 -c16 -d12s -H 'Connection: close' "$url/" >"$out/wrk-$count.txt" &
  wrk_pid=$!
  sleep 3; kill -HUP "$pid"; sleep 4; kill -HUP "$pid"
  wait "$wrk_pid"
  kill -TERM "$pid"; wait "$pid" || true
  requests=$(grep -oP '^\s*\K\d+(?= requests in)' "$out/wrk-$count.txt")
  errors=$(grep -oP 'Socket errors: connect \K\d+, read \d+, write \d+, timeout \d+' "$out/wrk-$count.txt" | tr -d ' ' | tr ',' '\n' | grep -oP '\d+' | paste -sd+ | bc || true)
  non2xx=$(grep -oP 'Non-2xx or 3xx responses: \K\d+' "$out/wrk-$count.txt" || echo 0)
  durations=$(grep -oP 'Reloaded \d+ workers in \K\d+' "$log" | paste -sd, -)
  echo "| $count | $durations | $requests | $(( ${errors:-0} + ${non2xx:-0} )) |"
done

echo
echo "| run | restart latency: worker ended -> replacement ready (ms) |"
echo "|---|---|"
for run in 1 2 3 4 5; do
  log="$out/restart-$run.log"
  start artifacts/bin/MinimalApp/release/MinimalApp.dll 2 "$log"
  curl -s -o /dev/null -X POST "$url/exit"
  for _ in $(seq 200); do grep -q "replaces the worker that ended" "$log" && break; sleep 0.05; done
  ended=$(grep -m1 'ended on its own' "$log" | grep -oP '^\d\d:\d\d:\d\d\.\d\d\d')
  ready=$(grep -m1 'replaces the worker that ended' "$log" | grep -oP '^\d\d:\d\d:\d\d\.\d\d\d')
  ms() { IFS=:. read -r h m s f <<<"$1"; echo $(( (10#$h*3600 + 10#$m*60 + 10#$s)*1000 + 10#$f )); }
  echo "| $run | $(( $(ms "$ready") - $(ms "$ended") )) |"
  kill -TERM "$pid"; wait "$pid" || true
done
rm -rf "$out"
