#!/usr/bin/env bash
# `npm start`: builds Baton, prepares a demo workspace (${BATON_DEMO_DIR:-~/baton-demo}, both sample plans
# imported) and opens it in VS Code with Baton:
#  - desktop VS Code when a `code` CLI and a display ($DISPLAY/$WAYLAND_DISPLAY) are available
#    (Baton loaded with --extensionDevelopmentPath);
#  - otherwise code-server (VS Code in the browser) on http://127.0.0.1:${PORT:-8080} (a free port if that one
#    is busy), with Baton installed from the VSIX of `npm run package`; it runs in the foreground until Ctrl-C.
# BATON_START_MODE=server forces code-server. Baton's data goes to $BATON_HOME (default ~/.baton).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

# shellcheck source=lib/env.sh
source "$ROOT/scripts/lib/env.sh"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[start] installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
npm run build

DEMO="${BATON_DEMO_DIR:-$HOME/baton-demo}"
bash scripts/demo-workspace.sh "$DEMO" || echo "[start] warning: the demo workspace's plans could not all be imported (see above); starting anyway"
DEMO="$(cd "$DEMO" && pwd)"

if [ "${BATON_START_MODE:-auto}" != server ] && command -v code >/dev/null 2>&1 \
   && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  echo "[start] opening $DEMO in VS Code with Baton from $ROOT (extension development mode)"
  exec code --extensionDevelopmentPath="$ROOT" "$DEMO"
fi

echo "[start] no desktop VS Code (a 'code' CLI and a display): serving VS Code with code-server instead"
without_npm_env bash scripts/setup-host.sh --without-chromium
npm run package
exec node scripts/lib/serve.mjs --folder "$DEMO" --vsix dist-vsix/baton.vsix
