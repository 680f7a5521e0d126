#!/usr/bin/env bash
# What the review UI's browser tests need: Debian's chromium (Playwright's own browser download
# is not reachable from CI) and axe-core from npm (the accessibility checks). Prints the two
# environment assignments the tests read; exits non-zero if either cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then as_root() { "$@"; }; else as_root() { sudo -n "$@"; }; fi

if ! command -v chromium >/dev/null 2>&1; then
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
if [ ! -f .ci/node/node_modules/axe-core/axe.min.js ]; then
    if ! command -v npm >/dev/null 2>&1; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2
    fi
    npm install --silent --no-audit --no-fund --prefix .ci/node axe-core@4 >&2
fi
echo "MODELTRUST_CHROMIUM=$(command -v chromium)"
echo "MODELTRUST_AXE_JS=$PWD/.ci/node/node_modules/axe-core/axe.min.js"
