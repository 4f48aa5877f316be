#!/usr/bin/env bash
# Provision goiardi (a Chef Server 11 compatible server with the Reporting API)
# for tests, benchmarks and the sandbox.
#
# stdout: exactly one line, the absolute path of a working goiardi binary.
# stderr: everything else.
#
# Order: `goiardi` on PATH > the Debian package (apt-get install -y goiardi,
# as root or through sudo). Safe to run again: an installed goiardi is used
# as is. The package ships a goiardi service (port 4545); tests and the
# sandbox never use it: they start their own goiardi on their own port.
set -euo pipefail

log() { printf 'provision-goiardi: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cache_root="$repo_root/.vscode-test"

works() { "$1" --version >/dev/null 2>&1; }

if on_path="$(command -v goiardi 2>/dev/null)" && works "$on_path"; then
  log "using goiardi from PATH ($("$on_path" --version 2>&1 | head -n1))"
  realpath "$on_path"
  exit 0
fi

mkdir -p "$cache_root"
# Parallel test runs may provision at the same time; only one may install.
exec 9>"$cache_root/goiardi.lock"
flock -w 600 9 || { log "timed out waiting for $cache_root/goiardi.lock"; exit 1; }

if on_path="$(command -v goiardi 2>/dev/null)" && works "$on_path"; then
  log "using goiardi from PATH (installed by a parallel run)"
  realpath "$on_path"
  exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo -n)
else
  log "goiardi is not installed and this user cannot install packages: run 'apt-get install -y goiardi' as root"
  exit 1
fi

install() { DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q goiardi >&2; }

log "installing the Debian package goiardi"
if ! install; then
  log "refreshing the package lists and trying again"
  "${sudo[@]}" apt-get update -q >&2
  install
fi

bin="$(command -v goiardi 2>/dev/null || true)"
[[ -n "$bin" ]] && works "$bin" || { log "goiardi was installed but does not run"; exit 1; }
log "installed $("$bin" --version 2>&1 | head -n1)"
realpath "$bin"
