#!/usr/bin/env bash
# Compatibility matrix: does an app that uses a popular package (or framework feature) unload when WorkerHosting
# reloads it?
#
#   benchmarks/compat/run.sh [options] TREE [TREE2]
#
# TREE is a checkout of this repository (the library under test is its src/WorkerHosting, as the work tree has it),
# or REPO@COMMIT (that commit's src/, read with git archive; the work tree is not read). For each case in
# benchmarks/compat/cases/ (in name order) the script, in a temp folder:
#   1. creates an app with `dotnet new <template>` (case.sh: TEMPLATE, TEMPLATE_ARGS), puts the case's files over it
#      (Program.cs: the template's plus what the package's documentation says to add, and `builder.UseWorkers(2);`),
#      adds the case's packages (PACKAGES) and a ProjectReference to the tree's WorkerHosting.csproj, builds Release;
#   2. runs it on 127.0.0.1:<free port> with WorkerHosting's logging at Debug, sends every request of the case
#      (REQUESTS) REPEAT times (a new connection each, so both workers serve them), then 3 times: SIGHUP, waits for
#      "Reloaded 2 workers", sends the requests again; waits for the last reload's unload checks, then SIGTERM;
#   3. records the load contexts unloaded ("was unloaded.") and still alive ("still alive"), late collections,
#      the exit code, the HTTP status codes, and every item of the Debug "released:" lines (what a stopped worker left
#      registered process-wide).
# With two trees (the library before, then now) it writes benchmarks/results/compat.md with both columns and prints
# it; with one tree it prints that tree's table. Per-tree results and logs: benchmarks/results/compat/<commit>/.
#
# A case is a folder of cases/: case.sh (bash, sourced) sets TEMPLATE (web, webapi, grpc; default web), TEMPLATE_ARGS,
# PACKAGES (Name@Version ...), REQUESTS (each "METHOD /path [curl arguments]", evaluated per request, so $BASE,
# $CASE_WORK and $TOKEN-like variables expand), and optionally CURL_ARGS (for every request), RUN_ENV and RUN_ARGS
# ({PORT}, {DEAD_PORT}: a loopback port nothing listens on, {REDIS_PORT}), LOG_ARGS (how to turn WorkerHosting's
# logging to Debug), NEEDS=redis, and functions setup (once per case, before its app starts) and before_round (before each round of
# requests). Every other file of the folder is copied over the template's (Program.cs, controllers, ...).
#
# The tree's library is copied (src/, the root props, global.json) into the temp folder and built there, so the run
# writes nothing into the tree (other builds and tests may be running in it).
#
# Options:
#   --only a,b,c       run these cases only (names or name suffixes, e.g. serilog,grpc); their rows replace those of
#                      an earlier run of the same tree
#   --dump-leaks       for the last TREE (the library now): when a load context is still alive before SIGTERM,
#                      dotnet-dump the process (Full) and write, with the ClrMD tool at $ROOTS_TOOL (default
#                      /tmp/leak/Roots/bin/Release/net10.0/Roots.dll), the path from a GC root to each collectible
#                      context still reachable (leaked and live workers) to results/compat/<commit>/<case>/roots.txt
#   --work DIR         temp folder (default: mktemp -d); --keep keeps it (builds of every case)
#   --render BEFORE.tsv NOW.tsv   only write and print the table from two earlier runs' results.tsv
#
# Bounded everywhere: build 600 s, startup 90 s, each reload 150 s, unload checks 90 s, stop 75 s (then SIGKILL), each
# request 30 s. Only processes this script started are signalled (by PID).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RESULTS=$REPO/benchmarks/results
CASES_DIR=$HERE/cases
ROOTS_TOOL=${ROOTS_TOOL:-/tmp/leak/Roots/bin/Release/net10.0/Roots.dll}
RELOADS=3
REPEAT=4

ONLY=""
DUMP_LEAKS=0
WORK=""
KEEP=0
RENDER=()
TREES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=$2; shift 2 ;;
    --dump-leaks) DUMP_LEAKS=1; shift ;;
    --work) WORK=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --render) RENDER=("$2" "$3"); shift 3 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) TREES+=("$1"); shift ;;
  esac
done

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# --- processes this script started: ended by PID on exit ---------------------------------------------------------
STARTED=()
cleanup() {
  local p
  for p in "${STARTED[@]}"; do
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  done
  # A build still running (timeout passes the signal on to dotnet build).
  if [ -n "$WORK" ] && [ -f "$WORK/build.pid" ]; then
    p=$(cat "$WORK/build.pid"); kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null && sleep 2
  fi
  if [ -n "$WORK" ] && [ "$KEEP" = 0 ] && [ -n "${WORK_CREATED:-}" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nothing listens on, outside the ephemeral range (so a port-0 bind elsewhere does not take it meanwhile).
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then echo "$p"; return 0; fi
  done
  return 1
}

count() { grep -cF -- "$1" "$2" 2>/dev/null || true; }

# --- markdown ------------------------------------------------------------------------------------------------------
md_cell() { local s=${1//|/\\|}; printf '%s' "${s//$'\n'/ }"; }

# results.tsv columns: case, packages, unloaded, alive, late, exit, released, requests, notes, seconds
render() { # before.tsv now.tsv (either may be empty)
  local before=$1 now=$2 b_label n_label
  b_label=$(sed -n 's/^# tree: //p' "$before" 2>/dev/null | head -1)
  n_label=$(sed -n 's/^# tree: //p' "$now" 2>/dev/null | head -1)
  echo "# WorkerHosting compatibility matrix"
  echo
  echo "Generated by \`benchmarks/compat/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores."
  local b_secs n_secs
  b_secs=$(sed -n 's/^# seconds: //p' "$before" 2>/dev/null | head -1)
  n_secs=$(sed -n 's/^# seconds: //p' "$now" 2>/dev/null | head -1)
  echo "Before: ${b_label:-not run}${b_secs:+, matrix ran in $((b_secs / 60)) min $((b_secs % 60)) s}."
  echo "Now: ${n_label:-not run}${n_secs:+, matrix ran in $((n_secs / 60)) min $((n_secs % 60)) s}."
  echo "Each app: \`UseWorkers(2)\`, every endpoint requested $REPEAT times per round, $RELOADS SIGHUP reloads (a round after each), then SIGTERM;"
  echo "so $((RELOADS * 2)) workers stop in reloads and 2 at the stop: 8 load contexts to unload."
  echo "unloaded/alive: lines \"was unloaded.\" / \"... still alive ...\" (+late: collected later, \"was unloaded ... after it was found alive\")."
  echo "Left behind: the items of the Debug \"released:\" lines at now (×N: how many of the stopped workers left it)."
  echo
  echo "| case | package versions | before: unloaded/alive | now: unloaded/alive | what each stopped worker left behind, now released | notes |"
  echo "|---|---|---|---|---|---|"
  local cases
  cases=$( { grep -v '^#' "$before" 2>/dev/null; grep -v '^#' "$now" 2>/dev/null; } | cut -f1 | sort -u)
  local c b n pk bcell ncell rel notes
  for c in $cases; do
    b=$(awk -F'\t' -v c="$c" '$1==c' "$before" 2>/dev/null | tail -1)
    n=$(awk -F'\t' -v c="$c" '$1==c' "$now" 2>/dev/null | tail -1)
    pk=$(printf '%s' "${n:-$b}" | cut -f2)
    cell() { # row
      local r=$1
      [ -z "$r" ] && { printf 'not run'; return; }
      local u a l x
      u=$(cut -f3 <<<"$r"); a=$(cut -f4 <<<"$r"); l=$(cut -f5 <<<"$r"); x=$(cut -f6 <<<"$r")
      if [ "$u" = "-" ]; then printf '%s' "$(cut -f9 <<<"$r" | cut -c1-60)"; return; fi
      printf '%s/%s' "$u" "$a"
      [ "$l" != 0 ] && printf ' (+%s late)' "$l"
      [ "$x" != 0 ] && printf ', exit %s' "$x"
    }
    bcell=$(cell "$b"); ncell=$(cell "$n")
    rel=$(printf '%s' "$n" | cut -f7)
    notes=""
    [ -n "$b" ] && notes+="before: $(cut -f8 <<<"$b"); $(cut -f9 <<<"$b")"
    [ -n "$n" ] && notes+="${notes:+ — }now: $(cut -f8 <<<"$n"); $(cut -f9 <<<"$n")"
    notes=$(sed -e 's/; *$//' -e 's/;  *—/ —/g' <<<"$notes")
    printf '| %s | %s | %s | %s | %s | %s |\n' "$(md_cell "$c")" "$(md_cell "$pk")" "$(md_cell "$bcell")" \
      "$(md_cell "$ncell")" "$(md_cell "${rel:-nothing}")" "$(md_cell "$notes")"
  done
}

if [ ${#RENDER[@]} -eq 2 ]; then
  mkdir -p "$RESULTS"
  render "${RENDER[0]}" "${RENDER[1]}" | tee "$RESULTS/compat.md"
  exit 0
fi

[ ${#TREES[@]} -ge 1 ] && [ ${#TREES[@]} -le 2 ] || { echo "usage: $0 [--only a,b] [--dump-leaks] TREE [TREE2]" >&2; exit 2; }
for t in "${TREES[@]}"; do
  if [[ $t == *@* ]]; then
    git -C "${t%@*}" cat-file -e "${t##*@}:src/WorkerHosting/WorkerHosting.csproj" 2>/dev/null ||
      { echo "$t: no src/WorkerHosting/WorkerHosting.csproj at that commit" >&2; exit 2; }
  else
    [ -f "$t/src/WorkerHosting/WorkerHosting.csproj" ] || { echo "$t: no src/WorkerHosting/WorkerHosting.csproj" >&2; exit 2; }
  fi
done
command -v curl >/dev/null || { echo "curl is required" >&2; exit 2; }
command -v dotnet >/dev/null || { echo "dotnet is required" >&2; exit 2; }

if [ -z "$WORK" ]; then WORK=$(mktemp -d /tmp/wh-compat.XXXXXX); WORK_CREATED=1; else mkdir -p "$WORK"; fi
log "work folder: $WORK"

# A case that needs Redis runs against a redis-server of its own on 127.0.0.1, from Debian's package.
ensure_redis() {
  command -v redis-server >/dev/null && return 0
  [ -n "${REDIS_TRIED:-}" ] && return 1
  REDIS_TRIED=1
  log "installing redis-server (Debian)"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y redis-server >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y redis-server >/dev/null 2>&1; }; } || true
  command -v redis-server >/dev/null
}

# --- one tree --------------------------------------------------------------------------------------------------------
prepare_tree() { # tree (a folder, or REPO@REV for a commit of REPO) -> sets TREE_LABEL, TREE_COPY, TREE_DESC
  local tree=$1 repo rev hash dirty="" f
  if [[ $tree == *@* ]]; then repo=${tree%@*}; rev=${tree##*@}; else repo=$tree; rev=HEAD; fi
  hash=$(git -C "$repo" rev-parse --short=7 "$rev^{commit}" 2>/dev/null || echo unknown)
  if [[ $tree != *@* ]] && [ -n "$(git -C "$repo" status --porcelain -- src Directory.Build.props Directory.Packages.props 2>/dev/null)" ]; then
    dirty="-dirty"
  fi
  TREE_LABEL=$hash$dirty
  TREE_DESC="$hash$dirty ($(git -C "$repo" log -1 --format=%s "$rev" 2>/dev/null | cut -c1-70)...)"
  [ -n "$dirty" ] && TREE_DESC+=", with the work tree's uncommitted changes to src/"
  TREE_COPY=$WORK/$TREE_LABEL/tree
  rm -rf "$TREE_COPY"; mkdir -p "$TREE_COPY"
  if [[ $tree == *@* ]]; then
    # The commit's files, from git (the work tree is not read).
    git -C "$repo" archive --format=tar "$rev" -- src | tar -x -C "$TREE_COPY"
    for f in Directory.Build.props Directory.Packages.props global.json nuget.config .editorconfig; do
      git -C "$repo" cat-file -e "$rev:$f" 2>/dev/null && git -C "$repo" show "$rev:$f" >"$TREE_COPY/$f"
    done
  else
    cp -r "$repo/src" "$TREE_COPY/"
    for f in Directory.Build.props Directory.Packages.props global.json nuget.config .editorconfig; do
      [ -f "$repo/$f" ] && cp "$repo/$f" "$TREE_COPY/"
    done
  fi
  find "$TREE_COPY/src" -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +
}

# Creates and builds one case's app. Sets APP_OUT (folder of the built app) or returns non-zero.
build_case() { # case_dir app_dir
  local cdir=$1 adir=$2 p name ver refs=""
  rm -rf "$adir"; mkdir -p "$adir"
  ( cd "$adir" && dotnet new "$TEMPLATE" -n CompatApp -o . --no-restore "${TEMPLATE_ARGS[@]}" ) >"$adir.new.log" 2>&1 || return 1
  # The case's files over the template's (not case.sh).
  ( cd "$cdir" && find . -type f ! -name case.sh -print0 | while IFS= read -r -d '' f; do
      mkdir -p "$adir/$(dirname "$f")"; cp "$f" "$adir/$f"; done )
  for p in "${PACKAGES[@]}"; do
    name=${p%@*}; ver=${p#*@}
    sed -i "/<PackageReference Include=\"$name\"/d" "$adir/CompatApp.csproj"
    refs+="    <PackageReference Include=\"$name\" Version=\"$ver\" />"$'\n'
  done
  refs+="    <ProjectReference Include=\"$TREE_COPY/src/WorkerHosting/WorkerHosting.csproj\" />"$'\n'
  sed -i 's#</Project>##' "$adir/CompatApp.csproj"
  printf '  <ItemGroup>\n%s  </ItemGroup>\n</Project>\n' "$refs" >>"$adir/CompatApp.csproj"
  ( cd "$adir" && exec timeout 600 dotnet build -c Release -nologo -v q -nodeReuse:false ) >"$adir.build.log" 2>&1 &
  local build_pid=$!
  echo "$build_pid" >"$WORK/build.pid"
  local rc=0
  wait "$build_pid" || rc=1
  rm -f "$WORK/build.pid"
  [ $rc = 0 ] || return 1
  APP_OUT=$adir/bin/Release/net10.0
  [ -f "$APP_OUT/CompatApp.dll" ]
}

REQLOG=""; BASE=""; LOG=""; APP_PID=""
send_requests() {
  local line code method path
  local -a r
  if declare -F before_round >/dev/null; then before_round; fi
  for line in "${REQUESTS[@]}"; do
    for ((k = 0; k < REPEAT; k++)); do
      eval "r=($line)"
      method=${r[0]}; path=${r[1]}
      code=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 30 -X "$method" "${CURL_ARGS[@]}" "${r[@]:2}" "$BASE$path" 2>/dev/null)
      echo "$method $path ${code:-000 30}" >>"$REQLOG"
    done
  done
}

wait_until() { # seconds command... ; 0 when the command succeeds, 1 on time-out, 2 when the app exited
  local end=$((SECONDS + $1)); shift
  while [ $SECONDS -lt $end ]; do
    "$@" && return 0
    kill -0 "$APP_PID" 2>/dev/null || return 2
    sleep 0.25
  done
  return 1
}
ready() { [ "$(count ' is ready in ' "$LOG")" -ge 2 ]; }
reloaded() { [ "$(count 'Reloaded 2 workers' "$LOG")" -ge "$1" ] || [ "$(count 'The reload stopped' "$LOG")" -gt 0 ]; }
checked() { [ $(( $(count 'was unloaded.' "$LOG") + $(count 'still alive' "$LOG") )) -ge "$1" ]; }

dump_leak() { # case_work
  local dmp=$1/leak.dmp
  export PATH=$PATH:/root/.dotnet/tools
  if ! command -v dotnet-dump >/dev/null; then echo "dotnet-dump not found" >"$1/roots.txt"; return; fi
  log "  dumping PID $APP_PID"
  timeout 300 dotnet-dump collect -p "$APP_PID" --type Full -o "$dmp" >"$1/dump.log" 2>&1
  if [ -f "$ROOTS_TOOL" ] && [ -f "$dmp" ]; then
    timeout 600 dotnet "$ROOTS_TOOL" "$dmp" >"$1/roots.txt" 2>&1
  else
    echo "no dump or no Roots tool ($ROOTS_TOOL)" >"$1/roots.txt"
  fi
  rm -f "$dmp"
}

# Reads a case's case.sh into globals (defaults first).
load_case() { # case_dir
  TEMPLATE=web; NEEDS=""; TEMPLATE_ARGS=(); PACKAGES=(); REQUESTS=(); CURL_ARGS=(); RUN_ENV=(); RUN_ARGS=()
  LOG_ARGS=(--Logging:LogLevel:WorkerHosting=Debug)
  unset -f setup before_round
  # shellcheck source=/dev/null
  source "$1/case.sh"
}

# Builds every selected case in turn, in the background, so that one case builds while the one before it runs.
# Each case's folder gets build.done ("<exit code> <seconds>") when its build ends.
build_all() { # case_dir...
  local cdir cw t0 rc
  for cdir in "$@"; do
    cw=$WORK/$TREE_LABEL/$(basename "$cdir")
    mkdir -p "$cw"
    t0=$SECONDS
    load_case "$cdir"
    build_case "$cdir" "$cw/app"; rc=$?
    echo "$rc $((SECONDS - t0))" >"$cw/build.done"
  done
}

run_case() { # case_dir -> appends a row to $TSV
  local cdir=$1 cname t0=$SECONDS
  cname=$(basename "$cdir")
  load_case "$cdir"
  local pk="" p
  for p in "${PACKAGES[@]}"; do pk+="${pk:+, }${p%@*} ${p#*@}"; done
  pk=${pk:-(framework only)}
  local cw=$WORK/$TREE_LABEL/$cname out=$TREE_OUT/$cname
  mkdir -p "$cw" "$out"
  CASE_WORK=$cw
  if declare -F setup >/dev/null; then setup; fi
  local build_s=""
  row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cname" "$pk" "$@" "${build_s:-?}+$((SECONDS - t0))" >>"$TSV"; }

  # Wait for the background build of this case.
  local end=$((SECONDS + 900))
  while [ ! -f "$cw/build.done" ] && [ $SECONDS -lt $end ]; do sleep 0.5; done
  local build_rc=1
  if [ -f "$cw/build.done" ]; then read -r build_rc build_s <"$cw/build.done"; fi
  log "$cname: built in ${build_s:-?} s (waited $((SECONDS - t0)) s)"
  t0=$SECONDS
  cp "$cw/app.build.log" "$out/build.log" 2>/dev/null
  if [ "$build_rc" != 0 ]; then
    cp "$cw/app.new.log" "$out/" 2>/dev/null
    log "  $cname: build failed (see $out/build.log)"
    row - - - - "" "" "build failed: $(grep -m1 -E 'error [A-Z]+[0-9]+' "$cw/app.build.log" 2>/dev/null | sed 's/.*error/error/' | cut -c1-160)"
    return
  fi
  APP_OUT=$cw/app/bin/Release/net10.0

  if [ "$NEEDS" = redis ] && ! command -v redis-server >/dev/null; then
    log "  $cname: skipped (redis-server cannot be installed)"
    row - - - - "" "" "skipped: no redis-server (apt-get install redis-server failed)"; return
  fi

  local redis_pid="" redis_port=""

  local port dead
  port=$(free_port); dead=$(free_port)
  BASE=http://127.0.0.1:$port
  if [ "$NEEDS" = redis ]; then
    redis_port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize no >"$cw/redis.log" 2>&1 &
    redis_pid=$!; STARTED+=("$redis_pid")
    local i; for i in $(seq 40); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.25; done
  fi
  subst() { local s=$1; s=${s//\{PORT\}/$port}; s=${s//\{DEAD_PORT\}/$dead}; s=${s//\{REDIS_PORT\}/$redis_port}; printf '%s' "$s"; }
  local -a env_args=() run_args=()
  local a
  for a in "${RUN_ENV[@]}"; do env_args+=("$(subst "$a")"); done
  for a in "${RUN_ARGS[@]}"; do run_args+=("$(subst "$a")"); done

  LOG=$cw/run.log; REQLOG=$cw/requests.log; : >"$REQLOG"
  log "  $cname: running on $BASE"
  # SIGHUP back to its default: a script started under nohup would pass on an ignored SIGHUP, and the app's reload
  # handler would never run.
  ( cd "$APP_OUT" && exec env --default-signal=HUP "${env_args[@]}" dotnet CompatApp.dll --urls "$BASE" "${LOG_ARGS[@]}" "${run_args[@]}" ) >"$LOG" 2>&1 &
  APP_PID=$!; STARTED+=("$APP_PID")

  local notes="" rc phases="" tp=$SECONDS
  wait_until 90 ready; rc=$?
  phases+="ready $((SECONDS - tp)) s"; tp=$SECONDS
  if [ $rc -ne 0 ]; then
    notes+="workers not ready ($([ $rc = 2 ] && echo 'process exited' || echo 'timed out')); "
  else
    send_requests
    local i
    for i in $(seq $RELOADS); do
      kill -HUP "$APP_PID" 2>/dev/null
      wait_until 150 reloaded "$i"; rc=$?
      if [ $rc -ne 0 ]; then notes+="reload $i: $([ $rc = 2 ] && echo 'process exited' || echo 'timed out'); "; break; fi
      if [ "$(count 'The reload stopped' "$LOG")" -gt 0 ]; then notes+="reload $i failed; "; break; fi
      phases+=", reload $i $((SECONDS - tp)) s"; tp=$SECONDS
      send_requests
    done
    # The last reload's old workers are checked after it completes: wait for every check before stopping.
    tp=$SECONDS
    wait_until 90 checked $((RELOADS * 2)) || notes+="not all unload checks logged before SIGTERM; "
    phases+=", checks $((SECONDS - tp)) s"; tp=$SECONDS
    if [ "$DUMP_LEAKS" = 1 ] && [ "$TREE_INDEX" = "$LAST_TREE" ] && [ "$(count 'still alive' "$LOG")" -gt 0 ] && kill -0 "$APP_PID" 2>/dev/null; then
      dump_leak "$cw"
      cp "$cw/roots.txt" "$out/roots.txt" 2>/dev/null
    fi
  fi

  local exit_code
  if kill -0 "$APP_PID" 2>/dev/null; then
    kill -TERM "$APP_PID" 2>/dev/null
    local end=$((SECONDS + 75))
    while kill -0 "$APP_PID" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.25; done
    if kill -0 "$APP_PID" 2>/dev/null; then kill -KILL "$APP_PID" 2>/dev/null; notes+="did not exit within 75 s of SIGTERM (killed); "; fi
  fi
  wait "$APP_PID" 2>/dev/null; exit_code=$?
  phases+=", stop $((SECONDS - tp)) s"
  if [ -n "$redis_pid" ]; then kill -TERM "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; fi

  local unloaded alive late released requests bad errors
  unloaded=$(count 'was unloaded.' "$LOG")
  alive=$(count 'still alive' "$LOG")
  late=$(count 'after it was found alive' "$LOG")
  # Items of "released: a; b; c." (Serilog quotes the string), with how many stopped workers left each.
  released=$(grep -o 'released: .*' "$LOG" | sed -e 's/^released: "\{0,1\}//' -e 's/"\{0,1\}\.\{0,1\}$//' |
    awk -F'; ' '{ delete seen; for (i = 1; i <= NF; i++) if (!($i in seen)) { seen[$i] = 1; n[$i]++ } }
      END { for (k in n) printf "%s ×%d\n", k, n[k] }' | sort | paste -sd';' - | sed 's/;/; /g')
  local per_worker
  per_worker=$(grep -o 'left [0-9]* process-wide' "$LOG" | awk '{print $2}' | sort -n | uniq | paste -sd/ -)
  [ -n "$per_worker" ] && released="${released} (per worker: $per_worker)"
  requests="$(wc -l <"$REQLOG") requests (slowest $(awk 'BEGIN { m = 0 } $4 > m { m = $4 } END { printf "%.1f", m }' "$REQLOG") s)"
  bad=$(awk '$3 !~ /^[23]/' "$REQLOG" | awk '{print $1" "$2" "$3}' | sort | uniq -c | awk '{printf "%s %s→%s ×%s, ", $2, $3, $4, $1}' | sed 's/, $//')
  errors=$(grep -cE '^fail: |\[(ERR|FTL)\]|Unhandled exception' "$LOG" || true)
  [ "$errors" != 0 ] && notes+="$errors error lines in the log ($(grep -m1 -E '^fail: |\[(ERR|FTL)\]|Unhandled exception' "$LOG" | cut -c1-140)); "
  row "$unloaded" "$alive" "$late" "$exit_code" "$released" "$requests${bad:+, $bad}" "${notes%; }"
  cp "$LOG" "$out/run.log"; cp "$REQLOG" "$out/requests.log"
  log "  $cname: unloaded $unloaded, alive $alive, late $late, exit $exit_code, $requests${bad:+ ($bad)}, ran $((SECONDS - t0)) s ($phases)"
}

run_tree() { # tree -> sets TSV
  local tree=$1 t0=$SECONDS
  prepare_tree "$tree"
  TREE_OUT=$RESULTS/compat/$TREE_LABEL
  TSV=$TREE_OUT/results.tsv
  if [ -n "$ONLY" ] && [ -f "$TSV" ]; then
    # A partial run replaces the rows (and logs) of its cases in the tree's earlier results.
    local c
    for c in $(ls "$CASES_DIR"); do
      for o in ${ONLY//,/ }; do
        if [[ $c == *"$o" ]]; then
          rm -rf "${TREE_OUT:?}/$c"; awk -F'\t' -v c="$c" '$1 != c' "$TSV" >"$TSV.tmp" && mv "$TSV.tmp" "$TSV"
        fi
      done
    done
  else
    rm -rf "$TREE_OUT"; mkdir -p "$TREE_OUT"
    printf '# tree: %s\n' "$TREE_DESC" >"$TSV"
  fi
  log "tree $tree: $TREE_DESC"
  local cdir selected=()
  for cdir in "$CASES_DIR"/*/; do
    cdir=${cdir%/}
    if [ -n "$ONLY" ]; then
      local keep=0 o
      for o in ${ONLY//,/ }; do [[ $(basename "$cdir") == *"$o" ]] && keep=1; done
      [ $keep = 1 ] || continue
    fi
    selected+=("$cdir")
  done
  if grep -qs '^NEEDS=redis' "${selected[@]/%//case.sh}"; then ensure_redis || log "redis-server cannot be installed: its case is skipped"; fi
  build_all "${selected[@]}" >"$WORK/$TREE_LABEL/build_all.log" 2>&1 &
  local builder=$!; STARTED+=("$builder")
  for cdir in "${selected[@]}"; do
    run_case "$cdir"
  done
  wait "$builder" 2>/dev/null
  if [ -z "$ONLY" ]; then printf '# seconds: %s\n' "$((SECONDS - t0))" >>"$TSV"; else printf '# partial: %s re-run in %s s\n' "$ONLY" "$((SECONDS - t0))" >>"$TSV"; fi
  log "tree $TREE_LABEL done in $((SECONDS - t0)) s: $TSV"
}

TSVS=()
TREE_INDEX=0; LAST_TREE=$((${#TREES[@]} - 1))
for t in "${TREES[@]}"; do
  if [[ $t == *@* ]]; then run_tree "$(cd "${t%@*}" && pwd)@${t##*@}"; else run_tree "$(cd "$t" && pwd)"; fi
  TSVS+=("$TSV")
  TREE_INDEX=$((TREE_INDEX + 1))
done

mkdir -p "$RESULTS"
if [ ${#TSVS[@]} -eq 2 ]; then
  render "${TSVS[0]}" "${TSVS[1]}" | tee "$RESULTS/compat.md"
else
  render /dev/null "${TSVS[0]}"
fi
