#!/usr/bin/env bash
# Test host for the JupyterLab extension's e2e tests (test/e2e/jupyterlab): a venv in
# .cache/jupyterlab-venv with pip-installed JupyterLab 4.6.4, Notebook 7.6, jupyter_server 2.21,
# TensorFlow and Keras (the machine's wheelhouse), SMLT's wheel built from jupyter-ext/ and
# installed into it as a user would (`pip install smlt_jupyterlab-*.whl`), Debian's Chromium,
# and the tslab TypeScript kernel with tfjs (.cache/tslab-host).
#
#   bash .ci/setup.d/jupyterlab.sh
#
# Idempotent: the venv, the labextension and the wheel are rebuilt only when their inputs change.
# Run after `npm ci` at the root (the extension bundles the shared panel from shared/dist).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.cache/jupyterlab-venv"
say() { echo "[jupyterlab] $*"; }

bash "$ROOT/.ci/apt-install-missing" chromium fonts-dejavu-core

t0=$(date +%s)
bash "$ROOT/.ci/wheelhouse-venv" "$VENV" "$ROOT/test/e2e/jupyterlab/requirements.txt" "$ROOT/test/fixtures/keras/requirements.txt"
t1=$(date +%s)

bash "$ROOT/jupyter-ext/install-wheel.sh" "$VENV"
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
say "ready: venv $((t1 - t0)) s, labextension + wheel $((t2 - t1)) s, tslab $((t3 - t2)) s"
