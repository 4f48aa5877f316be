#!/usr/bin/env bash
# Provision a consul binary for tests, benchmarks and the sandbox.
#
# stdout: exactly one line, the absolute path of a working consul binary.
# stderr: everything else.
#
# Order: `consul` on PATH (a developer's machine) > cached copy in
# .vscode-test/consul > Debian 11's consul 1.8.7 fetched with a private apt
# configuration (the system's apt sources, lists and cache are never touched).
set -euo pipefail

log() { printf 'provision-consul: %s\n' "$*" >&2; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cache_root="$repo_root/.vscode-test"
install_dir="$cache_root/consul"
cached_bin="$install_dir/usr/bin/consul"
apt_dir="$cache_root/consul-apt"

works() { "$1" version >/dev/null 2>&1; }

if on_path="$(command -v consul 2>/dev/null)" && works "$on_path"; then
  log "using consul from PATH"
  realpath "$on_path"
  exit 0
fi

mkdir -p "$cache_root"
# Parallel test runs may provision at the same time; only one may fetch.
exec 9>"$cache_root/consul.lock"
flock -w 600 9 || { log "timed out waiting for $cache_root/consul.lock"; exit 1; }

if [[ -x "$cached_bin" ]] && works "$cached_bin"; then
  log "using cached $cached_bin"
  echo "$cached_bin"
  exit 0
fi

fetch_deb() {
  rm -rf "$apt_dir"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/download"
  echo 'deb [trusted=yes] http://deb.debian.org/debian bullseye main' >"$apt_dir/sources.list"
  local -a apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    # The private dirs belong to root; apt's _apt sandbox user could not write them.
    -o APT::Sandbox::User=root
    -o Acquire::Languages=none
  )
  log "fetching the bullseye package index"
  apt-get "${apt_opts[@]}" -q update >&2
  log "downloading consul"
  (cd "$apt_dir/download" && apt-get "${apt_opts[@]}" -q download consul >&2)
}

fetch_deb
deb="$(ls "$apt_dir"/download/consul_*.deb)"
staging="$(mktemp -d "$cache_root/consul.staging.XXXXXX")"
dpkg -x "$deb" "$staging"
works "$staging/usr/bin/consul" || { log "extracted binary does not run"; exit 1; }
# Swap in the complete tree at once so a half-extracted cache is never used.
rm -rf "$install_dir"
mv "$staging" "$install_dir"
rm -rf "$apt_dir"
log "installed $("$cached_bin" version | head -n1) from $(basename "$deb")"
echo "$cached_bin"
