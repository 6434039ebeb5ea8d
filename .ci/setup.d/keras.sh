#!/usr/bin/env bash
# Python host for the Keras notebook tests (test/integration/keras-*.test.ts): a venv in
# .cache/keras-venv with TensorFlow (CPU), Keras 3, numpy and pandas from the machine's local
# wheelhouse.
#
#   bash .ci/setup.d/keras.sh
#
# Idempotent: a stamp of the pinned requirements makes a second run a no-op.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.cache/keras-venv"
bash "$ROOT/.ci/wheelhouse-venv" "$VENV" "$ROOT/test/fixtures/keras/requirements.txt"
"$VENV/bin/python" -c 'import keras, numpy, pandas, tensorflow' \
  || { echo "[keras] the venv cannot import keras, numpy, pandas and tensorflow"; exit 1; }
echo "[keras] ready: $("$VENV/bin/python" -c 'import keras; print("keras", keras.__version__)' 2>/dev/null)"
