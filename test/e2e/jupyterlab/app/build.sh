#!/usr/bin/env bash
# Builds the JupyterLab 4.6.4 frontend used by the e2e tests from npm packages into
# .cache/jupyterlab-app (or $1). Debian has no `jupyterlab` Python package, so the frontend
# that it would ship is built here by build.js; Debian's jupyter_server serves it (../serve.py).
#
# Idempotent: APP/.stamp holds a hash of this folder's package.json, lock and build.js; when it
# matches and static/index.html exists, nothing is done. node_modules lives in APP/build.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$src/../../../.." && pwd)"
app="${1:-$root/.cache/jupyterlab-app}"
mkdir -p "$app/build"
app="$(cd "$app" && pwd)"

want="$(cat "$src/package.json" "$src/package-lock.json" "$src/build.js" | sha256sum | cut -c1-16)"
if [ -f "$app/static/index.html" ] && [ "$(cat "$app/.stamp" 2>/dev/null)" = "$want" ]; then
  echo "[jupyterlab-app] up to date in $app"
  exit 0
fi
rm -f "$app/.stamp"
cp "$src/package.json" "$src/build.js" "$app/build/"
t0=$(date +%s)
if [ -d "$app/build/node_modules" ] && cmp -s "$src/package-lock.json" "$app/build/package-lock.json"; then
  echo "[jupyterlab-app] node_modules matches the lock file"
else
  cp "$src/package-lock.json" "$app/build/"
  (cd "$app/build" && npm ci --no-audit --no-fund --loglevel=error)
fi
t1=$(date +%s)
(cd "$app/build" && node build.js "$app")
t2=$(date +%s)
echo "$want" > "$app/.stamp"
echo "[jupyterlab-app] npm ci $((t1 - t0)) s, build $((t2 - t1)) s -> $app"
