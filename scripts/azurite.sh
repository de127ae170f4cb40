#!/usr/bin/env bash
# Microsoft's Azure Blob emulator, Azurite (npm, installed by `scripts/deps.sh test`), on
# 127.0.0.1 for the Azure tests: the blob service only, its data in DIR/data (it survives a
# stop, so a test can kill the emulator mid-run and start it again on the same port).
#
# usage: scripts/azurite.sh start DIR [PORT]  starts it on PORT (default: a free one); writes
#                                             DIR/env with AZ_ENDPOINT (the service URL,
#                                             http://127.0.0.1:PORT/devstoreaccount1), AZ_PORT,
#                                             AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY (the
#                                             emulator's well-known account and key)
#        scripts/azurite.sh stop DIR          stops it by the PID it saved in DIR/pid
#        scripts/azurite.sh kill DIR          the same with SIGKILL, as a crash would
# AZURITE_PREFIX: where deps.sh installed it (default /opt/regsweep-test/azurite).
# AZURITE_IN_MEMORY=1 keeps everything in memory (nothing survives a stop): Azurite otherwise
# writes its whole index to disk every 5 s, which the benchmarks would time.
set -euo pipefail
cmd=${1:?usage: scripts/azurite.sh start|stop|kill DIR [PORT]}
D=${2:?usage: scripts/azurite.sh start|stop|kill DIR [PORT]}
BIN=${AZURITE_PREFIX:-/opt/regsweep-test/azurite}/node_modules/.bin/azurite-blob

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

stop() {
  [ -f "$D/pid" ] || return 0
  local pid
  pid=$(cat "$D/pid")
  kill "-$1" "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  # A busy emulator may not heed SIGTERM: after 10 s it is killed.
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$D/pid"
}

case $cmd in
  start)
    [ -x "$BIN" ] || { echo "azurite is not installed at $BIN: run scripts/deps.sh test" >&2; exit 1; }
    mkdir -p "$D/data"
    port=${3:-$(free_port)}
    store=(--location "$D/data")
    [ "${AZURITE_IN_MEMORY:-}" = 1 ] && store=(--inMemoryPersistence)
    (cd "$D" && exec "$BIN" --blobHost 127.0.0.1 --blobPort "$port" "${store[@]}" --silent \
      --disableTelemetry --disableProductStyleUrl >>"$D/azurite.log" 2>&1) &
    echo $! >"$D/pid"
    for _ in $(seq 1 200); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        cat >"$D/env" <<ENV
AZ_PORT=$port
AZ_ENDPOINT=http://127.0.0.1:$port/devstoreaccount1
AZURE_STORAGE_ACCOUNT=devstoreaccount1
AZURE_STORAGE_KEY=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==
export AZ_PORT AZ_ENDPOINT AZURE_STORAGE_ACCOUNT AZURE_STORAGE_KEY
ENV
        exit 0
      fi
      kill -0 "$(cat "$D/pid")" 2>/dev/null || { cat "$D/azurite.log" >&2; exit 1; }
      sleep 0.1
    done
    echo "azurite did not listen on 127.0.0.1:$port within 20 s" >&2
    stop TERM
    exit 1
    ;;
  stop) stop TERM ;;
  kill) stop KILL ;;
  *) echo "usage: scripts/azurite.sh start|stop|kill DIR [PORT]" >&2; exit 2 ;;
esac
