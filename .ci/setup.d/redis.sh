#!/usr/bin/env bash
# Debian's redis-server for the Redis channel's tests (they start private servers; none runs as a service).
set -euo pipefail
bash "$(dirname "${BASH_SOURCE[0]}")/../apt-install-missing" redis-server
redis-server --version
