#!/usr/bin/env bash
# Test host for the JupyterLab extension's e2e tests (test/e2e/jupyterlab): Debian's
# jupyter_server 1.23 + jupyterlab_server + ipykernel + numpy and Chromium (apt), a JupyterLab
# 4.6.4 frontend built from npm packages (.cache/jupyterlab-app), and the prebuilt labextension
# (jupyter-ext/build/labextension; npm and build stamps in .cache/jupyter-ext).
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
say "ready: app $((t1 - t0)) s, extension $((t2 - t1)) s"
