#!/usr/bin/env bash
# Worker start time and process RSS of the sample app with 1, 2 and 4 workers.
# Usage: benchmarks/scripts/startup-rss.sh [runs]   (Release build; binds 127.0.0.1 port 0 only)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
dotnet build samples/HelloWorkers -c Release -v q -nologo >/dev/null
app=artifacts/bin/HelloWorkers/release/HelloWorkers.dll
out=$(mktemp -d)
printf '| workers | worker ready, median ms (all workers, %s runs) | all ready, median ms | RSS after 100 requests, median MB |\n|---|---|---|---|\n' "$runs"
for count in 1 2 4; do
  ready=(); all=(); rss=()
  for run in $(seq "$runs"); do
    log="$out/$count-$run.log"
    dotnet "$app" --urls http://127.0.0.1:0 --Workers:Count="$count" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do grep -q "workers are ready" "$log" && break; sleep 0.05; done
    url=$(grep -oP 'Now listening on: \K\S+' "$log" | head -1)
    for _ in $(seq 100); do curl -s -o /dev/null -H 'Connection: close' "$url/"; done
    rss+=("$(awk '/VmRSS/ {print $2/1024}' "/proc/$pid/status")")
    kill -TERM "$pid"; wait "$pid" || true
    while read -r ms; do ready+=("$ms"); done < <(grep -oP 'is ready in \K\d+' "$log")
    all+=("$(grep -oP 'workers are ready after \K\d+' "$log")")
  done
  median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
  printf '| %s | %s | %s | %.1f |\n' "$count" "$(median "${ready[@]}")" "$(median "${all[@]}")" "$(median "${rss[@]}")"
done
rm -rf "$out"
