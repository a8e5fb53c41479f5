#!/usr/bin/env bash
# System packages the test suite needs beyond PyPI: Debian's Chromium for the browser tests of the
# offline map, a CJK font so Chinese labels render in screenshots and printed figures, Debian's GDAL 3.6
# (ogrinfo and validate_gpkg.py) and QGIS 3.22 (python3-qgis, headless) so the tests check that the GeoPackage
# opens cleanly, with its styles, in the GIS software of Debian 12; PostgreSQL 15 + PostGIS 3.3 for the PostGIS
# tests, which start and stop their own throwaway cluster on a free local port.
# Installs only what is missing; uses sudo when not root.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei fontconfig)
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
[ -f /usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py ] || need+=(python3-gdal)
/usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 || need+=(python3-qgis)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${need[@]}" >/dev/null
