#!/usr/bin/env bash
# Runs Heaven's whole test suite: ./test.sh [extra dotnet test arguments, e.g. --filter Postgres]
#
# 1. installs the Debian packages the tests use, when they are missing;
# 2. starts a throwaway PostgreSQL server on 127.0.0.1 (removed again on exit);
# 3. runs `dotnet test Heaven.slnx -c Release`, writing .trx results;
# 4. prints, as its very last line, "N passed, N failed" summed over all results.
#
# Environment:
#   HEAVEN_TEST_POSTGRES  an Npgsql connection string to an existing server to use instead of
#                         starting one (its user must be allowed to create databases)
#   HEAVEN_TEST_PG_PORT   first port to try for the throwaway server (default 55432)
#   HEAVEN_TEST_RESULTS   where the .trx files go, old .trx files there being removed
#                         (default ./TestResults, emptied first)
#   HEAVEN_TEST_HANG_TIMEOUT  a single test running longer than this is killed and the run fails (default 20m)
#   HEAVEN_TEST_CHROMIUM  the Chromium the browser tests drive (default /usr/bin/chromium, Debian's)
#
# The browser tests leave a PNG of each page they drove in <results>/screenshots (emptied first).
set -euo pipefail

# Debian packages the tests need (one word per package).
# openssh-server: the sshd the deploy tests start; openssh-client: ssh, ssh-agent, ssh-add, ssh-keygen;
# fabric: Fabric 2 (/usr/bin/fab) for the fabric provider's tests; awscli: the elastic_beanstalk provider's tool;
# capistrano (/usr/bin/cap 3.17, with net-ssh and its ed25519 gems), bundler (/usr/bin/bundle) and
# ansible-core (ansible-playbook): the capistrano, bundler_capistrano and ansible providers' tests.
# chromium (/usr/bin/chromium): the browser the page tests drive through Playwright, which never downloads its own.
REQUIRED_PACKAGES="git bubblewrap postgresql openssh-client openssh-server fabric awscli capistrano ruby-ed25519 ruby-bcrypt-pbkdf bundler ansible-core chromium"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The browser tests use Debian's chromium: Playwright must not try to fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

say() { printf 'test.sh: %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; printf '0 passed, 1 failed\n'; exit 1; }

# --- 1. packages ---------------------------------------------------------------------------------

install_missing_packages() {
    local missing=() package
    for package in $REQUIRED_PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0

    local as_root=()
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            as_root=(sudo)
        else
            die "these Debian packages are missing: ${missing[*]}. Install them as root (apt-get install ${missing[*]}), then run ./test.sh again."
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        die "these packages are missing and apt-get is not available to install them: ${missing[*]}."
    fi

    say "installing ${missing[*]}"
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q \
        || die "apt-get update failed; install ${missing[*]} by hand."
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed."
}

if command -v dpkg-query >/dev/null 2>&1; then
    install_missing_packages
else
    say "not a Debian system: make sure these are installed: $REQUIRED_PACKAGES"
fi

# --- 2. a throwaway PostgreSQL -------------------------------------------------------------------

PG_TMP=""
PG_BIN=""
PG_AS=()

run_pg() { (cd "$PG_TMP" && "${PG_AS[@]}" "$PG_BIN/$1" "${@:2}"); }

stop_postgres() {
    if [[ -n $PG_TMP && -d $PG_TMP ]]; then
        if [[ -f $PG_TMP/data/postmaster.pid ]]; then
            run_pg pg_ctl -D "$PG_TMP/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
        fi
        rm -rf "$PG_TMP"
    fi
    PG_TMP=""
}

cleanup() { stop_postgres; }
trap cleanup EXIT
interrupted() { printf 'test.sh: interrupted\n' >&2; printf '0 passed, 1 failed\n'; exit "$1"; }
trap 'interrupted 130' INT
trap 'interrupted 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_postgres() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then PG_BIN=$dir; break; fi
    done
    if [[ -z $PG_BIN ]] && command -v initdb >/dev/null 2>&1; then
        PG_BIN=$(dirname "$(command -v initdb)")
    fi
    [[ -n $PG_BIN ]] || die "PostgreSQL's initdb was not found (install Debian's postgresql package)."

    PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/heaven-pg.XXXXXX")
    if [[ $(id -u) -eq 0 ]]; then
        # initdb refuses to run as root: the server runs as the postgres user.
        id postgres >/dev/null 2>&1 || die "running as root, but there is no postgres user to run PostgreSQL as."
        chown postgres: "$PG_TMP"
        PG_AS=(runuser -u postgres --)
    fi

    run_pg initdb -D "$PG_TMP/data" -U postgres --auth=trust --encoding=UTF8 --locale=C --no-sync \
        >"$PG_TMP/initdb.log" 2>&1 || { cat "$PG_TMP/initdb.log" >&2; die "initdb failed."; }

    local port=${HEAVEN_TEST_PG_PORT:-55432} attempt
    for attempt in $(seq 1 50); do
        if ! port_in_use "$port"; then
            # Loopback only, trust auth, no durability: a server for one test run.
            if run_pg pg_ctl -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
                -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TMP -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
                start >/dev/null 2>&1; then
                export HEAVEN_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
                say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') is running on 127.0.0.1:$port (data in $PG_TMP)"
                return 0
            fi
        fi
        port=$((port + 1))
    done
    cat "$PG_TMP/server.log" >&2 2>/dev/null || true
    die "could not start PostgreSQL on any port from ${HEAVEN_TEST_PG_PORT:-55432}."
}

if [[ -n ${HEAVEN_TEST_POSTGRES:-} ]]; then
    say "using the PostgreSQL server in HEAVEN_TEST_POSTGRES"
else
    start_postgres
fi

# --- 3. the tests --------------------------------------------------------------------------------

if [[ -n ${HEAVEN_TEST_RESULTS:-} ]]; then
    RESULTS=$HEAVEN_TEST_RESULTS
    mkdir -p "$RESULTS"
    find "$RESULTS" -name '*.trx' -type f -delete
else
    RESULTS=$ROOT/TestResults
    rm -rf "$RESULTS"
    mkdir -p "$RESULTS"
fi
export HEAVEN_TEST_SCREENSHOTS=$RESULTS/screenshots
rm -rf "$HEAVEN_TEST_SCREENSHOTS"

status=0
# A shell started as a background job ignores SIGINT, and ignored signals are inherited by every
# process it starts: the deploy scripts of the tests could then not trap the SIGINT a cancel sends.
# env --default-signal gives the test run (and the deploys it starts) the disposition a foreground
# terminal or systemd would.
env --default-signal=INT,QUIT dotnet test Heaven.slnx -c Release \
    --logger trx --results-directory "$RESULTS" \
    --blame-hang-timeout "${HEAVEN_TEST_HANG_TIMEOUT:-20m}" --blame-hang-dump-type none \
    "$@" </dev/null || status=$?

stop_postgres
find "$RESULTS" -mindepth 1 -type d -empty -delete 2>/dev/null || true

# --- 4. the count --------------------------------------------------------------------------------

# Each .trx has <Counters total=".." executed=".." passed=".." failed=".." error=".." timeout=".." aborted=".." .../>.
read -r passed failed < <(
    find "$RESULTS" -name '*.trx' -type f -print0 | xargs -0 -r cat | tr '\n' ' ' | grep -o '<Counters [^>]*>' |
    awk '
        function attr(name,   m) { return match($0, " " name "=\"[0-9]+\"") ? substr($0, RSTART + length(name) + 3, RLENGTH - length(name) - 4) + 0 : 0 }
        { p += attr("passed"); f += attr("failed") + attr("error") + attr("timeout") + attr("aborted") }
        END { print p + 0, f + 0 }'
)

if [[ $status -ne 0 && $failed -eq 0 ]]; then
    # dotnet test failed without a failed test to show for it (build error, crashed or hung test host).
    say "dotnet test exited with $status without reporting a failed test; counting that as a failure"
    failed=1
fi

printf '%s passed, %s failed\n' "$passed" "$failed"
[[ $status -eq 0 && $failed -eq 0 ]]
