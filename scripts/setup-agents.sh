#!/usr/bin/env bash
# Installs the agent CLIs that Baton's tests run for real (test/unit/sessionsRealClaude.test.ts) into
# scripts/agents/node_modules, from the npm registry only, at the exact versions in
# scripts/agents/package-lock.json:
#   claude  @anthropic-ai/claude-code  (a native binary; its postinstall, allowed in allowScripts, links it)
#   gemini  @google/gemini-cli
#   qwen    @qwen-code/qwen-code       (declares node >= 22; what the tests use runs on node 20)
#   codex   @openai/codex              (a native binary from an optional dependency)
# The install scripts of gemini's optional node-pty and keytar are denied (not needed; they would compile).
# None of these CLIs can reach its model here: the tests only check that they read Baton's MCP wiring and
# connect to Baton's MCP server. About 1 GB on disk. Idempotent; fast when already done.
# FORCE=1 reinstalls.
set -euo pipefail
# An enclosing `npm test` exports npm_* variables (npm_config_user_agent names node 20, …); drop them.
for v in $(compgen -e); do case "$v" in npm_*) unset "$v" ;; esac; done
DIR="$(cd "$(dirname "$0")" && pwd)/agents"
BIN="$DIR/node_modules/.bin"
cd "$DIR"

up_to_date() {
  [ -z "${FORCE:-}" ] || return 1
  [ -f node_modules/.package-lock.json ] || return 1
  [ package-lock.json -nt node_modules/.package-lock.json ] && return 1
  [ package.json -nt node_modules/.package-lock.json ] && return 1
  local b
  for b in claude gemini qwen codex; do [ -x "$BIN/$b" ] || return 1; done
  return 0
}

if up_to_date; then
  echo "[setup-agents] up to date"
else
  [ -z "${FORCE:-}" ] || rm -rf node_modules
  echo "[setup-agents] installing agent CLIs into $DIR/node_modules (npm registry; about a minute)"
  # engine-strict off: claude-code and qwen-code declare node >= 22; they run on node 20 for what the tests use.
  # `npm install`, not `npm ci`: the lockfile is honoured, but some optional platform packages of
  # qwen-code (@teddyzhu/clipboard-darwin-*, -win32-*) are missing from the registry this machine reaches,
  # which `npm ci` takes for a lockfile out of sync. --no-save leaves package.json and the lockfile alone.
  npm install --no-save --no-audit --no-fund --loglevel=error --engine-strict=false
fi

# Each must start: print its version (no network needed).
fail=0
for b in claude gemini qwen codex; do
  if v=$(cd "$DIR" && CI=true timeout 60 "$BIN/$b" --version </dev/null 2>/dev/null | tail -1) && [ -n "$v" ]; then
    echo "[setup-agents] $b: $v"
  else
    echo "[setup-agents] $b does not start" >&2
    fail=1
  fi
done
exit "$fail"
