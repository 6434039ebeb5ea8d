#!/usr/bin/env bash
# Builds the prebuilt (federated) labextension into jupyter-ext/build/labextension:
# npm ci when the lock file changed, then tsc and @jupyter/builder's build-labextension.
# Idempotent: stamps in .cache/jupyter-ext/ hold hashes of the lock file and of the sources
# (including the shared modules the bundle takes from shared/dist: the panel, the load cell, the cell
# roles, the sweep panel and the search space it describes trials with).
set -euo pipefail
ext="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$ext/.." && pwd)"
stamps="$root/.cache/jupyter-ext"
mkdir -p "$stamps"
cd "$ext"

lock="$(cat package.json package-lock.json | sha256sum | cut -c1-16)"
if [ ! -d node_modules/@jupyter/builder ] || [ "$(cat "$stamps/npm.stamp" 2>/dev/null)" != "$lock" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock" > "$stamps/npm.stamp"
fi

[ -f "$root/shared/dist/panel/render.js" ] || { echo "[jupyter-ext] shared/dist is missing: run npx tsc -b at the repo root" >&2; exit 1; }
sources="$( (echo "$lock"; find src schema style tsconfig.json "$root/shared/dist/panel" "$root/shared/dist/run/load-cell.js" "$root/shared/dist/capture/cell-roles.js" "$root/shared/dist/sweep/sweep-panel.js" "$root/shared/dist/capture/search-space.js" -type f | LC_ALL=C sort | xargs cat) | sha256sum | cut -c1-16)"
if [ -f build/labextension/package.json ] && [ "$(cat "$stamps/build.stamp" 2>/dev/null)" = "$sources" ]; then
  echo "[jupyter-ext] labextension up to date"
  exit 0
fi
rm -f "$stamps/build.stamp"
rm -rf lib build/labextension/static
npx tsc
node node_modules/@jupyter/builder/lib/build-labextension.js \
  --core-package-file node_modules/@jupyterlab/core-meta/core.package.json . > "$stamps/build.log" 2>&1 \
  || { cat "$stamps/build.log"; exit 1; }
ls build/labextension/static/remoteEntry.*.js > /dev/null
echo "$sources" > "$stamps/build.stamp"
echo "[jupyter-ext] built build/labextension"
