#!/usr/bin/env bash
# Installs Heaven on a Debian host or into a Debian-based image. Run as root; running it again changes
# only what differs (an upgrade is: publish the new version, run this again).
#
#   packaging/install-debian.sh [--from DIR] [--with TOOL[,TOOL...]] [--container] [--no-start] [--uid UID]
#
#   --from DIR     the published folder to install (packaging/publish.sh's output); default
#                  artifacts/publish/<this machine's RID> in the repository this script is in
#   --with TOOLS   also install the Debian packages of these providers' tools (repeatable, comma-separated):
#                  capistrano, bundler (bundler_capistrano), fabric, ansible, elastic_beanstalk
#   --container    for a container image: no systemd unit; adds tini (the image's init process) and curl
#                  (its health check)
#   --no-start     install and enable the systemd unit, but neither start nor restart Heaven
#   --uid UID      the user id to give the heaven user when creating it (an image fixes it, so that files
#                  mounted into a container can be given to that user)
#
# What it does, each step only when needed:
#   - installs git, openssh-client, bubblewrap, ca-certificates (and the tools asked for);
#   - creates the system users `heaven` (runs Heaven; home /var/lib/heaven) and `heaven-deploy` (the user
#     deploys run as when Heaven runs as root: Deployments:RunAs), both without a login shell;
#   - installs the program in /usr/local/lib/heaven, with /usr/local/bin/heaven pointing at it;
#   - /var/lib/heaven, the data directory (owner heaven, mode 0700, as Heaven requires at every start),
#     and /var/lib/heaven-work, the deployments' folders (owner heaven, mode 0711);
#   - /etc/heaven (root only): heaven.env for settings (created once, never overwritten) and credentials/,
#     one file per secret, named after its setting (GITHUB_TOKEN, Webhooks__Secret, ...);
#   - the systemd unit /usr/local/lib/systemd/system/heaven.service, and the drop-in
#     /etc/systemd/system/heaven.service.d/credentials.conf that hands each file in /etc/heaven/credentials
#     to Heaven through LoadCredential= and its *File setting; enables Heaven, and starts it (or restarts
#     it when the program, the unit or the credentials changed) when systemd is running.
set -euo pipefail

say() { printf 'install-debian.sh: %s\n' "$*"; }
die() { printf 'install-debian.sh: %s\n' "$*" >&2; exit 1; }
usage_error() { printf 'install-debian.sh: %s (see --help)\n' "$*" >&2; exit 2; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/usr/local/lib/heaven
BIN_LINK=/usr/local/bin/heaven
DATA_DIR=/var/lib/heaven
WORK_DIR=/var/lib/heaven-work
CONFIG_DIR=/etc/heaven
CREDENTIALS_DIR=$CONFIG_DIR/credentials
UNIT_DIR=/usr/local/lib/systemd/system
DROPIN_DIR=/etc/systemd/system/heaven.service.d

BASE_PACKAGES="git openssh-client bubblewrap ca-certificates"

from=""
tools=()
container=false
start=true
uid=""

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --from) [[ $# -ge 2 ]] || usage_error "--from needs a folder"; from=$2; shift 2 ;;
        --from=*) from=${1#--from=}; shift ;;
        --with) [[ $# -ge 2 ]] || usage_error "--with needs a tool name"; IFS=, read -ra more <<<"$2"; tools+=("${more[@]}"); shift 2 ;;
        --with=*) IFS=, read -ra more <<<"${1#--with=}"; tools+=("${more[@]}"); shift ;;
        --container) container=true; shift ;;
        --no-start) start=false; shift ;;
        --uid) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage_error "--uid needs a user id above 0"; uid=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage_error "unknown option '$1'" ;;
    esac
done

[[ $(id -u) -eq 0 ]] || die "run this as root (it installs packages and creates users)."
command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1 || die "this script is for Debian (apt-get and dpkg-query are missing)."

if [[ -z $from ]]; then
    case $(uname -m) in
        x86_64) rid=linux-x64 ;;
        aarch64 | arm64) rid=linux-arm64 ;;
        *) die "no published Heaven for this machine ($(uname -m)); name the folder with --from" ;;
    esac
    from=$SCRIPT_DIR/../artifacts/publish/$rid
fi
[[ -x $from/heaven ]] || die "$from/heaven is missing: run packaging/publish.sh first, or name the published folder with --from."
from=$(cd "$from" && pwd)

unit_source=$SCRIPT_DIR/heaven.service
$container || [[ -f $unit_source ]] || die "$unit_source is missing: keep heaven.service beside this script."

# Two runs at once (a second terminal, a test) would interleave their steps: take turns.
mkdir -p /run/lock
exec 9>/run/lock/heaven-install.lock
flock 9

# --- packages ------------------------------------------------------------------------------------

packages="$BASE_PACKAGES"
$container && packages+=" tini curl"
for tool in "${tools[@]}"; do
    case $tool in
        capistrano) packages+=" capistrano ruby-ed25519 ruby-bcrypt-pbkdf" ;;
        bundler | bundler_capistrano) packages+=" bundler capistrano ruby-ed25519 ruby-bcrypt-pbkdf" ;;
        fabric) packages+=" fabric" ;;
        ansible) packages+=" ansible-core" ;;
        elastic_beanstalk | awscli) packages+=" awscli" ;;
        "") ;;
        *) usage_error "unknown tool '$tool' for --with: capistrano, bundler, fabric, ansible or elastic_beanstalk" ;;
    esac
done

missing=()
for package in $packages; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || die "apt-get update failed; install ${missing[*]} by hand."
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed."
fi

# --- users ---------------------------------------------------------------------------------------

ensure_user() { # name home comment [uid]
    if ! getent passwd "$1" >/dev/null; then
        useradd --system --user-group --no-create-home --home-dir "$2" --shell /usr/sbin/nologin --comment "$3" ${4:+--uid "$4"} -- "$1"
        say "created the system user $1"
    fi
    [[ $(id -u "$1") -ne 0 ]] || die "the user $1 has uid 0; Heaven and its deploys never run as root that way."
}
ensure_user heaven "$DATA_DIR" "Heaven deployment server" "$uid"
# The same user Heaven itself would create when it runs as root (Deployments:RunAs); made here because
# under the systemd unit /etc is read-only for Heaven.
ensure_user heaven-deploy /nonexistent "Heaven deploys"

# --- the program ---------------------------------------------------------------------------------

"$from/heaven" --version >/dev/null 2>&1 || die "$from/heaven does not run on this machine (built for another architecture?)."

program_changed=false
if [[ ! -d $PREFIX ]] || ! diff -r -q "$from" "$PREFIX" >/dev/null 2>&1; then
    # Into a folder beside the old one, then swapped in: a running Heaven keeps its open files, and a
    # file of an older version never lingers next to the new ones.
    rm -rf "$PREFIX.new" "$PREFIX.old"
    mkdir -p "$(dirname "$PREFIX")"
    cp -R "$from" "$PREFIX.new"
    chown -R root:root "$PREFIX.new"
    chmod -R u=rwX,go=rX "$PREFIX.new"
    chmod 0755 "$PREFIX.new/heaven"
    [[ -d $PREFIX ]] && mv "$PREFIX" "$PREFIX.old"
    mv "$PREFIX.new" "$PREFIX"
    rm -rf "$PREFIX.old"
    program_changed=true
    say "installed $("$PREFIX/heaven" --version 2>/dev/null | head -n 1) in $PREFIX"
fi
mkdir -p "$(dirname "$BIN_LINK")"
[[ $(readlink "$BIN_LINK" 2>/dev/null) == "$PREFIX/heaven" ]] || ln -sfn "$PREFIX/heaven" "$BIN_LINK"

# --- directories ---------------------------------------------------------------------------------

# The data directory: Heaven refuses to start unless it can keep it private to its own user (0700,
# files 0600), so it and everything in it belongs to heaven. Files an operator command run as root
# may have left are given back.
install -d -o heaven -g heaven -m 0700 "$DATA_DIR"
chown heaven:heaven "$DATA_DIR"
chmod 0700 "$DATA_DIR"
find "$DATA_DIR" -mindepth 1 \( \! -user heaven -o \! -group heaven \) -exec chown -h heaven:heaven {} +
# The deployments' folders: other users may pass through (0711) but not list, as Heaven sets it itself.
install -d -o heaven -g heaven -m 0711 "$WORK_DIR"
chown heaven:heaven "$WORK_DIR"
chmod 0711 "$WORK_DIR"

# Settings and secrets: root only. Under systemd, PID 1 reads them and hands them over (EnvironmentFile=,
# LoadCredential=); a sandboxed deploy, which sees /etc read-only, must not be able to read them.
install -d -o root -g root -m 0700 "$CONFIG_DIR" "$CREDENTIALS_DIR"
chmod 0700 "$CONFIG_DIR" "$CREDENTIALS_DIR"
if [[ ! -e $CONFIG_DIR/heaven.env ]]; then
    (umask 077; cat >"$CONFIG_DIR/heaven.env" <<'ENV'
# Heaven's settings for the systemd unit, one NAME=value a line (the .NET form Section__Key, or the
# original Heaven's variable names). Read by systemd, not by a shell: no quotes needed, no $ expansion.
# Secrets do not go here: put each in a file of its own in /etc/heaven/credentials/, named after its
# setting (GITHUB_TOKEN, GITHUB_WEBHOOK_SECRET, DEPLOYMENT_PRIVATE_KEY, DATABASE_URL, Notifications__Slack__BotToken, ...),
# then run install-debian.sh again. The whole list: docs/production.md.
#
#ASPNETCORE_URLS=http://0.0.0.0:8080
#Heaven__PublicUrl=https://heaven.example.com
#Deployments__Isolation=required
ENV
    )
    say "created $CONFIG_DIR/heaven.env (settings; edit it, then: systemctl restart heaven)"
fi

$container && { say "done (container: no systemd unit)"; exit 0; }

# --- systemd -------------------------------------------------------------------------------------

replace_if_different() { # new-file target mode; prints "changed" when it replaced the target
    if [[ -f $2 ]] && cmp -s "$1" "$2"; then
        rm -f "$1"
    else
        chmod "$3" "$1"
        mv -f "$1" "$2"
        echo changed
    fi
}

unit_changed=""
install -d -m 0755 "$UNIT_DIR" "$DROPIN_DIR"
cp "$unit_source" "$UNIT_DIR/heaven.service.new"
unit_changed+=$(replace_if_different "$UNIT_DIR/heaven.service.new" "$UNIT_DIR/heaven.service" 0644)

# One credential per file in /etc/heaven/credentials: the file GITHUB_TOKEN becomes the credential
# GITHUB_TOKEN and the setting GITHUB_TOKEN_FILE=%d/GITHUB_TOKEN (a .NET name, Section__Key, gets
# Section__KeyFile). %d is the service's credentials directory, readable by Heaven alone.
dropin=$DROPIN_DIR/credentials.conf
{
    echo "# Written by install-debian.sh from the files in $CREDENTIALS_DIR; run it again after changing them."
    echo "[Service]"
    for file in "$CREDENTIALS_DIR"/*; do
        [[ -f $file ]] || continue
        name=$(basename "$file")
        if [[ ! $name =~ ^[A-Za-z][A-Za-z0-9_]*$ ]]; then
            say "skipping $file: name a credential file after its setting (letters, digits and _ only)" >&2
            continue
        fi
        if [[ $name == *__* ]]; then setting=${name}File; else setting=${name}_FILE; fi
        echo "LoadCredential=$name:$file"
        echo "Environment=$setting=%d/$name"
    done
} >"$dropin.new"
unit_changed+=$(replace_if_different "$dropin.new" "$dropin" 0644)

if [[ ! -d /run/systemd/system ]]; then
    say "done; systemd is not running here: the unit is installed, start Heaven with 'systemctl start heaven' once it is"
    exit 0
fi

[[ -n $unit_changed ]] && systemctl daemon-reload
systemctl enable --quiet heaven.service
if ! $start; then
    say "done; Heaven is enabled but not started (--no-start)"
elif ! systemctl is-active --quiet heaven.service; then
    systemctl start heaven.service
    say "done; Heaven is running (systemctl status heaven, journalctl -u heaven)"
elif $program_changed || [[ -n $unit_changed ]]; then
    # A restart drains: running deploys may finish first (Deployments:DrainTimeout).
    say "restarting Heaven for the new program or settings"
    systemctl restart heaven.service
    say "done"
else
    say "done; nothing changed"
fi
