#!/usr/bin/env bash
# A software GPU for the WebGPU backend's tests: Mesa's lavapipe Vulkan driver from Debian's
# bookworm-backports (Mesa 25). Dawn (npm `webgpu`) refuses bookworm's own Mesa 22 adapter.
set -euo pipefail
source_file=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat >"$source_file" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
installed=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$installed" in
  25.* | 26.* | 27.*) ;;
  *)
    echo "[apt] installing mesa-vulkan-drivers from bookworm-backports (have: ${installed:-none})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q -o DPkg::Lock::Timeout=600
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
      -t bookworm-backports mesa-vulkan-drivers libvulkan1
    ;;
esac
dpkg-query -W -f='mesa-vulkan-drivers ${Version}\n' mesa-vulkan-drivers
