#!/usr/bin/env bash
# Bundle the dashboard's front-end libraries from the npm registry into the package
# (src/sitewatch/web/static/vendor/). Run when upgrading them; the result is committed so that
# a plain `pip install` serves them offline: nothing is fetched from a CDN at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/sitewatch/web/static/vendor
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
( cd "$tmp" && npm pack --silent leaflet@1.9.4 uplot@1.6.31 >/dev/null && for f in *.tgz; do mkdir "${f%.tgz}" && tar -xzf "$f" -C "${f%.tgz}"; done )
mkdir -p "$out"
cp "$tmp"/leaflet-1.9.4/package/dist/leaflet.js "$tmp"/leaflet-1.9.4/package/dist/leaflet.css "$out"/
cp "$tmp"/leaflet-1.9.4/package/LICENSE "$out"/LICENSE.leaflet
cp "$tmp"/uplot-1.6.31/package/dist/uPlot.iife.min.js "$tmp"/uplot-1.6.31/package/dist/uPlot.min.css "$out"/
cp "$tmp"/uplot-1.6.31/package/LICENSE "$out"/LICENSE.uplot
printf 'leaflet 1.9.4 (BSD-2-Clause)\nuplot 1.6.31 (MIT)\nfrom the npm registry by tools/vendor_web.sh\n' > "$out"/VERSIONS
ls -la "$out"
