#!/usr/bin/env bash
# Debian's redis-server for the Redis channel's tests (they start private servers; none runs as a service).
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -o DPkg::Lock::Timeout=600
  apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 redis-server
fi
redis-server --version
