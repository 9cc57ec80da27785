# Sourced by scripts/start.sh and scripts/test.sh.
# Runs a command without the npm_* variables (and NODE) of an enclosing `npm test`/`npm start`: an inner
# `npm ci` would inherit npm_config_user_agent (".. node/v20 ..") and code-server's postinstall would then
# refuse to install, believing it runs on Node 20.
without_npm_env() {
  local unset=() v
  for v in $(compgen -e); do case "$v" in npm_*|NODE) unset+=(-u "$v") ;; esac; done
  env "${unset[@]}" "$@"
}
