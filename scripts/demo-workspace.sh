#!/usr/bin/env bash
# Creates (if missing) a demo workspace for Baton — a git repository holding both sample plans and a README —
# and imports both plans into Baton with the CLI (dist/cli.js; run `npm run build` first). Re-running it
# re-imports, which updates the existing plans. Baton's data goes to $BATON_HOME (default ~/.baton).
# Usage: scripts/demo-workspace.sh DIR
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${1:?usage: scripts/demo-workspace.sh DIR}"
CLI="$ROOT/dist/cli.js"
PLANS=(orchestron-implementation-plan.md orchestration-v1-readiness-plan.md)

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
if [ ! -d "$DIR/.git" ]; then
  echo "[demo] creating the demo workspace in $DIR"
  for p in "${PLANS[@]}"; do
    [ -e "$DIR/$p" ] || cp "$ROOT/resources/sample-plans/$p" "$DIR/$p"
  done
  if [ ! -e "$DIR/README.md" ]; then
    cat > "$DIR/README.md" <<'README'
# Baton demo workspace

This folder was created by Baton's `scripts/demo-workspace.sh` (run by `npm start`) to try the extension.
It holds two sample plans, which were imported into Baton:

- `orchestron-implementation-plan.md`: phases of an MCP orchestration project, with checklists;
- `orchestration-v1-readiness-plan.md`: a readiness plan for the same project.

Open the Baton view in the activity bar to see their sprints and tasks. Running
`scripts/demo-workspace.sh` again re-imports both plans (updating what is already there).
It is a throwaway git repository: delete it whenever you like.
README
  fi
  git -C "$DIR" init -q -b main
  git -C "$DIR" add -A
  git -C "$DIR" -c user.name="Baton demo" -c user.email="demo@baton.invalid" -c commit.gpgsign=false \
    commit -q -m "Baton demo workspace"
else
  echo "[demo] using the existing demo workspace $DIR"
fi

if [ ! -f "$CLI" ]; then
  echo "[demo] $CLI is missing: run npm run build first" >&2
  exit 1
fi
status=0
for p in "${PLANS[@]}"; do
  if [ ! -f "$DIR/$p" ]; then echo "[demo] $DIR/$p is missing; not importing it" >&2; status=1; continue; fi
  echo "[demo] importing $p (BATON_HOME=${BATON_HOME:-~/.baton})"
  if ! (cd "$DIR" && node "$CLI" import "$p" --workspace "$DIR"); then
    echo "[demo] importing $p failed" >&2
    status=1
  fi
done
exit $status
