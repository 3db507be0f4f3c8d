#!/usr/bin/env bash
# Builds Heaven as a self-contained Linux program that needs no .NET on the host it runs on:
#
#   packaging/publish.sh [RID ...]      RID: linux-x64, linux-arm64 (default: this machine's)
#
# Each RID's output goes to artifacts/publish/<RID>/ (emptied first): the executable `heaven` (one file
# holding the runtime, ASP.NET Core and Heaven), libe_sqlite3.so (SQLite, loaded from beside it) and
# appsettings.json. packaging/install-debian.sh installs such a folder. Needs the .NET SDK (global.json);
# the runtime packs come from the NuGet feed, in the version the SDK chooses.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

default_rid() {
    case $(uname -m) in
        x86_64) echo linux-x64 ;;
        aarch64 | arm64) echo linux-arm64 ;;
        *) echo "publish.sh: no RID for this machine ($(uname -m)); name one: linux-x64 or linux-arm64" >&2; exit 2 ;;
    esac
}

rids=("$@")
[[ ${#rids[@]} -gt 0 ]] || rids=("$(default_rid)")

for rid in "${rids[@]}"; do
    case $rid in
        linux-x64 | linux-arm64) ;;
        *) echo "publish.sh: unknown RID '$rid': linux-x64 or linux-arm64" >&2; exit 2 ;;
    esac
    output=$ROOT/artifacts/publish/$rid
    rm -rf "$output"
    # --artifacts-path keeps this build's intermediate files apart from src/Heaven/obj and bin, so a
    # publish never disturbs (or is disturbed by) the ordinary build that `dotnet run` and the tests use.
    # DebugType=embedded: stack traces keep their line numbers without a separate .pdb.
    # PublishReadyToRun: Heaven's own code and its libraries are compiled ahead of time, as the runtime
    # already is, so the server and every operator command start in about half the time (the JIT has
    # little left to do) and the first deploys do not run on unoptimised code; the file grows by about
    # 55 MB and the publish takes minutes instead of seconds (bench/RESULTS.md, "Published program").
    # PublishDocumentationFile=false: the XML documentation is for editors, not for the server.
    dotnet publish "$ROOT/src/Heaven/Heaven.csproj" -c Release -r "$rid" --self-contained true \
        -p:PublishSingleFile=true -p:DebugType=embedded -p:PublishReadyToRun=true -p:PublishDocumentationFile=false \
        --artifacts-path "$ROOT/artifacts/publish-build" -o "$output" -nologo -v q
    echo "publish.sh: $output/heaven ($rid)"
done
