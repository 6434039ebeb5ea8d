#!/usr/bin/env bash
# Test host for the JupyterLab extension's e2e tests (test/e2e/jupyterlab): Debian's
# jupyter_server 1.23 + jupyterlab_server + ipykernel + numpy and Chromium (apt), a JupyterLab
# 4.6.4 frontend built from npm packages (.cache/jupyterlab-app), the prebuilt labextension
# (jupyter-ext/build/labextension; npm and build stamps in .cache/jupyter-ext), and the tslab
# TypeScript kernel with tfjs (.cache/tslab-host).
#
#   bash .ci/setup.d/jupyterlab.sh
#
# Idempotent: apt only installs what is missing; the app and the extension are rebuilt only
# when their pinned package files or sources change. Only apt and the npm registry are used.
# Run after `npm ci` at the root (the extension bundles the shared panel from shared/dist).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
say() { echo "[jupyterlab] $*"; }

bash "$ROOT/.ci/apt-install-missing" --with-recommends \
  python3-jupyter-server python3-jupyterlab-server python3-ipykernel python3-numpy chromium
/usr/bin/python3 -c 'import jupyter_server, jupyterlab_server, ipykernel, numpy' \
  || { say "Debian's python3 cannot import jupyter_server, jupyterlab_server, ipykernel and numpy"; exit 1; }

t0=$(date +%s)
bash "$ROOT/test/e2e/jupyterlab/app/build.sh" "$ROOT/.cache/jupyterlab-app"
t1=$(date +%s)
bash "$ROOT/jupyter-ext/build.sh"
t2=$(date +%s)

# The TypeScript kernel (tslab) and the tfjs its test notebook imports, pinned by the lock file.
# Install scripts stay off: zeromq ships its prebuilt addon and would otherwise try to compile.
TSLAB_PINS="$ROOT/test/e2e/jupyterlab/tslab"
TSLAB_HOST="$ROOT/.cache/tslab-host"
want="$(cat "$TSLAB_PINS/package.json" "$TSLAB_PINS/package-lock.json" | sha256sum | cut -c1-16)"
if [ ! -x "$TSLAB_HOST/node_modules/tslab/bin/tslab" ] || [ "$(cat "$TSLAB_HOST/.stamp" 2>/dev/null)" != "$want" ]; then
  mkdir -p "$TSLAB_HOST"
  cp "$TSLAB_PINS/package.json" "$TSLAB_PINS/package-lock.json" "$TSLAB_HOST/"
  (cd "$TSLAB_HOST" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" > "$TSLAB_HOST/.stamp"
fi
t3=$(date +%s)
say "ready: app $((t1 - t0)) s, extension $((t2 - t1)) s, tslab $((t3 - t2)) s"
