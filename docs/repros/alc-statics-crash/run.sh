#!/bin/bash
# usage: NAME=x [ENV...] ./run.sh   -> logs/x.log, prints rc; a crash writes a dump core.<pid> in this folder.
# Build first (Release): see README.md. Runs from this folder; PLUGIN and DBDIR are relative to it.
cd "$(dirname "$0")"; mkdir -p logs db; find db -mmin +20 -delete 2>/dev/null
[ -f host/bin/Release/net10.0/host.dll ] || { echo "build first: see README.md"; exit 2; }
export DOTNET_DbgEnableMiniDump=1 DOTNET_DbgMiniDumpType=${DUMPTYPE:-2} DOTNET_DbgMiniDumpName=$PWD/core.%p DOTNET_CreateDumpDiagnostics=0
log=logs/${NAME:-run}.log
timeout -k 10 ${TLIMIT:-900} nice -n ${NICE:-19} dotnet host/bin/Release/net10.0/host.dll > $log 2>&1
rc=$?
echo "rc=$rc" >> $log
echo "$NAME rc=$rc"; grep -E "DONE|Fatal|Segmentation|AccessViolation|stack overflow|Aborted" $log | head -5; tail -2 $log | cut -c1-250
