#!/usr/bin/env bash
# Builds SMLT's wheel (jupyter-ext/dist/smlt_jupyterlab-*.whl: the labextension, rebuilt by
# build.sh when its sources changed, and the server extension) with the venv's pip, offline, and
# installs it into that venv as a user would, when its bytes changed since the last install.
#
#   bash jupyter-ext/install-wheel.sh VENV
set -euo pipefail
ext="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$1"
rm -rf "$ext/dist"
# The venv holds hatchling; without build isolation pip needs no index.
"$venv/bin/pip" wheel "$ext" --no-deps --no-build-isolation --quiet -w "$ext/dist"
wheel="$(ls "$ext"/dist/smlt_jupyterlab-*.whl)"
echo "[jupyter-ext] wheel $(basename "$wheel"): $(( $(stat -c %s "$wheel") / 1024 )) KiB"
# hatchling's builds are reproducible (fixed timestamps): the same sources give the same bytes.
sum="$(sha256sum "$wheel" | cut -c1-16)"
if [ "$(cat "$venv/.smlt-wheel-stamp" 2>/dev/null)" != "$sum" ]; then
  "$venv/bin/pip" install --quiet --no-deps --force-reinstall "$wheel"
  echo "$sum" > "$venv/.smlt-wheel-stamp"
  echo "[jupyter-ext] installed into $venv"
fi
