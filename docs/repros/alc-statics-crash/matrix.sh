#!/bin/bash
# runs named configs of the web variant sequentially: each stdin line "NAME ENV=.. ENV=.."
cd "$(dirname "$0")"
while read -r name envs; do
  [ -z "$name" ] && continue
  env $envs NAME=$name PLUGIN=${PLUGIN:-webplugin/bin/Release/net10.0/plugin.dll} ENTRY=${ENTRY:-Plugin.WebEntry} CYCLES=${CYCLES:-200} SECONDS=${SECS:-300} TLIMIT=420 VERBOSE=1 ./run.sh
done
