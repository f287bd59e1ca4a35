#!/bin/sh
# Best effort: make Debian's headless Chromium available for the browser tests (tests/web, marker `browser`).
#
# Idempotent and never fails the build: when /usr/bin/chromium is already there it does nothing; when it is
# missing it installs `chromium` with apt-get only if we are root on a Debian-like system; otherwise it says
# why, and the browser test skips itself with the same reason. Playwright's own browser download is never used.
CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "ensure_chromium: $CHROMIUM is missing and we are not root; the browser test will be skipped" >&2
    echo "ensure_chromium: install it with: sudo apt-get install -y chromium" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: $CHROMIUM is missing and apt-get is not available; the browser test will be skipped" >&2
    exit 0
fi
echo "ensure_chromium: installing Debian's chromium package (one time)" >&2
if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2; then
    echo "ensure_chromium: apt-get could not install chromium; the browser test will be skipped" >&2
fi
exit 0
