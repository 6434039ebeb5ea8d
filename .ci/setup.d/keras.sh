#!/usr/bin/env bash
# Python host for the Keras notebook tests (test/integration/keras-*.test.ts): a venv in
# .cache/keras-venv with TensorFlow (CPU), Keras 3, numpy and pandas from the machine's local
# wheelhouse (`pip config list` shows it as extra indexes; pip is pointed at the first one so it
# never tries the internet).
#
#   bash .ci/setup.d/keras.sh
#
# Idempotent: a stamp of the pinned requirements makes a second run a no-op.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.cache/keras-venv"
REQS="$ROOT/test/fixtures/keras/requirements.txt"
say() { echo "[keras] $*"; }

want="$(sha256sum "$REQS" | cut -c1-16)"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.stamp" 2>/dev/null)" = "$want" ]; then
  say "ready ($("$VENV/bin/python" -c 'import keras; print("keras", keras.__version__)' 2>/dev/null))"
  exit 0
fi

# The wheelhouse's indexes, as pip config lists them (file:// URLs); the first becomes --index-url.
read -r -a indexes <<< "$(pip config get global.extra-index-url 2>/dev/null || true)"
index_args=()
if [ "${#indexes[@]}" -gt 0 ]; then
  index_args+=(--index-url "${indexes[0]}")
  for extra in "${indexes[@]:1}"; do index_args+=(--extra-index-url "$extra"); done
else
  say "pip config lists no local wheelhouse; pip will use its default index"
fi

t0=$(date +%s)
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${index_args[@]}" -r "$REQS"
"$VENV/bin/python" -c 'import keras, numpy, pandas, tensorflow' \
  || { say "the venv cannot import keras, numpy, pandas and tensorflow"; exit 1; }
echo "$want" > "$VENV/.stamp"
say "ready in $(( $(date +%s) - t0 )) s: $("$VENV/bin/python" -c 'import keras; print("keras", keras.__version__)')"
