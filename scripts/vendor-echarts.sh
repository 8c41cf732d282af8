#!/usr/bin/env bash
# Vendor Apache ECharts into bot/static/ from the npm registry (never a CDN at run time):
#   scripts/vendor-echarts.sh [VERSION]     # default: the version pinned below
# `npm pack` fetches the package tarball into a temporary folder (nothing is installed, no
# node_modules), and its prebuilt dist/echarts.min.js is copied to bot/static/echarts.min.js,
# with the licences it carries (ECharts: Apache-2.0 with its NOTICE and the d3 subcomponents'
# BSD-3-Clause; the bundled ZRender: BSD-3-Clause) into bot/static/vendor/echarts/.
# The version and the file's SHA-256 go into bot/static/vendor/README.md by
# hand; tests/unit/test_quality_vendor.py checks the file against that SHA-256.
. "$(dirname "$0")/lib.sh"

version="${1:-6.1.0}"
command -v npm >/dev/null || die "npm is needed to vendor ECharts (apt-get install npm)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "echarts@$version" "zrender@$version" >/dev/null)
tar -xzf "$work/echarts-$version.tgz" -C "$work"
mkdir -p "$work/zrender" && tar -xzf "$work/zrender-$version.tgz" -C "$work/zrender"
static="$ROOT/bot/static"
licenses="$static/vendor/echarts"
mkdir -p "$licenses"
cp "$work/package/dist/echarts.min.js" "$static/echarts.min.js"
cp "$work/package/LICENSE" "$work/package/NOTICE" "$licenses/"
cp "$work/package/licenses/LICENSE-d3" "$licenses/LICENSE-d3"
cp "$work/zrender/package/LICENSE" "$licenses/LICENSE-zrender"
log "echarts $version: $(sha256sum "$static/echarts.min.js" | cut -d' ' -f1)  bot/static/echarts.min.js"
log "record the version and that SHA-256 in bot/static/vendor/README.md"
