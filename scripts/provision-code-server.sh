#!/usr/bin/env bash
# Installs what the code-server test harness needs: Debian packages, a local
# ripgrep "download", and code-server itself into test/code-server/.
# Idempotent and cached: a second run does no network work.
# All progress goes to stderr; the only stdout line is the path to entry.js,
# so callers can do: ENTRY=$(scripts/provision-code-server.sh | tail -n1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CS_DIR="$ROOT/test/code-server"
CS_VERSION="4.100.3"
CS_PKG="$CS_DIR/node_modules/code-server"
ENTRY="$CS_PKG/out/node/entry.js"

# Pinned by code-server 4.100.3's lib/vscode/npm-shrinkwrap.json.
RG_PKG_VERSION="1.15.11"
RG_RELEASE="v13.0.0-10"

APT_PACKAGES=(build-essential python3 libkrb5-dev ripgrep chromium)

log() { echo "[provision-code-server] $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

is_installed() {
  # dpkg -s alone succeeds for removed packages that left config files.
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

install_debian_packages() {
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "Debian packages present"
    return
  fi
  log "apt-get install ${missing[*]}"
  # A fresh machine may have no package lists yet: fetch them once and try again.
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; then
    log "apt-get install failed; updating the package lists and trying again"
    as_root apt-get update -q >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
  fi
}

rg_target() {
  case "$(uname -m)" in
    x86_64) echo x86_64-unknown-linux-musl ;;
    aarch64) echo aarch64-unknown-linux-musl ;;
    *) log "unsupported architecture $(uname -m)"; exit 1 ;;
  esac
}

# @vscode/ripgrep's postinstall downloads from GitHub, which is unreachable
# here. It first looks in $TMPDIR/vscode-ripgrep-cache-<version>/ for the
# release tarball, so we put Debian's rg there under the expected name.
prepare_ripgrep_cache() {
  local cache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-$RG_PKG_VERSION"
  local tarball="$cache/ripgrep-$RG_RELEASE-$(rg_target).tar.gz"
  if [ -s "$tarball" ]; then
    return
  fi
  local staging
  staging="$(mktemp -d)"
  cp /usr/bin/rg "$staging/rg"
  mkdir -p "$cache"
  tar -czf "$tarball.partial" -C "$staging" rg
  mv "$tarball.partial" "$tarball"
  rm -rf "$staging"
  log "ripgrep cache: $tarball"
}

installed_version() {
  node -p "require('$CS_PKG/package.json').version" 2>/dev/null || true
}

# entry.js alone is not enough: it exists even when the postinstall (which
# installs VS Code's own node_modules and native modules) was skipped or failed.
is_code_server_ready() {
  [ -f "$ENTRY" ] &&
    [ "$(installed_version)" = "$CS_VERSION" ] &&
    [ -e "$CS_PKG/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" ] &&
    [ -d "$CS_PKG/lib/vscode/node_modules/node-pty/build/Release" ]
}

# Packages in code-server's nested installs (lib/vscode, lib/vscode/extensions)
# that build native modules or fetch ripgrep; versions are pinned by
# code-server's shrinkwraps. The extensions' two are dev dependencies that
# --omit=dev never installs, but a strict npm still asks about them.
VSCODE_SCRIPT_PACKAGES="node-pty,@vscode/spdlog,kerberos,native-watchdog,@parcel/watcher,@vscode/deviceid,@vscode/ripgrep,@vscode/windows-process-tree,@vscode/windows-registry"
EXTENSIONS_SCRIPT_PACKAGES="@parcel/watcher,esbuild"

# npm 11 records approved dependency install scripts in package.json#allowScripts
# (ours covers code-server and argon2). Today unreviewed scripts still run with a
# warning; a stricter npm, or strict-allow-scripts=true, skips or rejects them.
# code-server's postinstall runs `npm install` again inside lib/vscode and
# lib/vscode/extensions; those only see their own project config, so their
# approvals go into .npmrc files there — written between unpacking
# (--ignore-scripts) and running the scripts (npm rebuild). An
# npm_config_allow_scripts env var would not work: npm rejects it in
# project-scoped installs (EALLOWSCRIPTS), and npm exports every config it
# has to lifecycle scripts, so it must not be in our own .npmrc either.
approve_nested_scripts() {
  echo "allow-scripts=$VSCODE_SCRIPT_PACKAGES" > "$CS_PKG/lib/vscode/.npmrc"
  echo "allow-scripts=$EXTENSIONS_SCRIPT_PACKAGES" > "$CS_PKG/lib/vscode/extensions/.npmrc"
}

install_code_server() {
  local cmd=install
  [ -f "$CS_DIR/package-lock.json" ] && cmd=ci
  log "npm $cmd in $CS_DIR (native modules are compiled: about 1-2 minutes)"
  (
    cd "$CS_DIR"
    # unsafe_perm: code-server's postinstall refuses to run as root without it
    # (npm 11 warns it does not know the config; the script reads the env var).
    # nodedir: build native modules against the installed Node headers
    # instead of downloading them.
    export npm_config_unsafe_perm=true npm_config_nodedir=/usr npm_config_yes=true
    npm "$cmd" --ignore-scripts --no-audit --no-fund >&2
    approve_nested_scripts
    npm rebuild --no-audit --no-fund >&2
  )
}

main() {
  install_debian_packages
  prepare_ripgrep_cache
  if is_code_server_ready; then
    log "code-server $CS_VERSION already installed"
  else
    local start=$SECONDS
    install_code_server
    is_code_server_ready || {
      log "code-server install is incomplete: were install scripts skipped? (npm install-scripts ls)"
      exit 1
    }
    log "code-server $CS_VERSION installed in $((SECONDS - start)) s"
  fi
  echo "$ENTRY"
}

main "$@"
