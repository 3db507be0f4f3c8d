#!/usr/bin/env bash
# How fast the published `heaven` starts, compiled ahead of time (ReadyToRun, what packaging/publish.sh
# builds) or not: the server from its start to the first 200 from /healthz, and an operator command
# (`heaven tokens list` on an empty data directory) from its start to its exit, each ROUNDS times,
# alternately. Results: bench/RESULTS.md, "Published program".
#
#   bench/publish-startup.sh [ROUNDS]        (default 5; publishes both ways first, a few minutes)
#
# Talks only to 127.0.0.1. Needs the .NET SDK, curl and GNU time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${1:-5}
WORK=$(mktemp -d /tmp/heaven-publish-startup.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

case $(uname -m) in
    x86_64) rid=linux-x64 ;;
    aarch64 | arm64) rid=linux-arm64 ;;
    *) echo "publish-startup.sh: no RID for $(uname -m)" >&2; exit 2 ;;
esac

publish() { # name, extra properties...
    local name=$1; shift
    local started=$SECONDS
    dotnet publish "$ROOT/src/Heaven/Heaven.csproj" -c Release -r "$rid" --self-contained true \
        -p:PublishSingleFile=true -p:DebugType=embedded "$@" \
        --artifacts-path "$WORK/build-$name" -o "$WORK/$name" -nologo -v q >&2
    echo "$name: published in $((SECONDS - started)) s, $(($(stat -c %s "$WORK/$name/heaven") / 1000000)) MB" >&2
}

publish jit -p:PublishReadyToRun=false
publish r2r -p:PublishReadyToRun=true

port=$((40000 + RANDOM % 20000))
millis() { echo $(($(date +%s%N) / 1000000)); }

server_start() { # name -> ms from exec to the first 200 from /healthz; runs in $(...), a subshell of its own
    local data=$WORK/data-$1-$RANDOM
    mkdir -p "$data"
    local start; start=$(millis)
    HEAVEN_DATA_DIR=$data GITHUB_TOKEN=bench-token GITHUB_WEBHOOK_SECRET=bench-secret-0123456789abcdef \
        "$WORK/$1/heaven" --urls "http://127.0.0.1:$port" >"$data.log" 2>&1 &
    server=$!
    # Also when the benchmark is interrupted: the server, started in the background, ignores SIGINT.
    trap 'kill "$server" 2>/dev/null || true' EXIT
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
        kill -0 "$server" 2>/dev/null || { cat "$data.log" >&2; exit 1; }
        sleep 0.01
    done
    echo $(($(millis) - start))
    kill "$server"; wait "$server" 2>/dev/null || true
}

command_time() { # name -> ms from exec to exit of `heaven tokens list`
    local data=$WORK/cli-$1
    mkdir -p "$data"
    /usr/bin/time -f '%e' -o "$WORK/time" "$WORK/$1/heaven" tokens list --DataDirectory "$data" >/dev/null 2>&1
    awk '{ printf "%d\n", $1 * 1000 }' "$WORK/time"
}

declare -A starts commands
for _ in $(seq "$ROUNDS"); do
    for name in jit r2r; do
        starts[$name]+="$(server_start "$name") "
        commands[$name]+="$(command_time "$name") "
    done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "| published | server start → /healthz, median of $ROUNDS (all) | \`heaven tokens list\`, median (all) |"
echo "|---|---:|---:|"
for name in jit r2r; do
    echo "| $name | $(echo "${starts[$name]}" | median) ms (${starts[$name]% }) | $(echo "${commands[$name]}" | median) ms (${commands[$name]% }) |"
done
