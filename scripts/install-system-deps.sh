#!/usr/bin/env bash
# System packages the test suite needs beyond PyPI: Debian's Chromium for the browser tests of the
# offline map, and a CJK font so Chinese labels render in screenshots and printed figures.
# Installs only what is missing; uses sudo when not root.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei fontconfig)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${need[@]}" >/dev/null
