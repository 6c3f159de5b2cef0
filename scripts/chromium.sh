#!/usr/bin/env bash
# Headless browser for the dashboard's end-to-end test: Debian's chromium.
#
#   scripts/chromium.sh install   install the Debian package if missing (needs root)
#   scripts/chromium.sh path      print the browser's path, exit 1 when there is none
#
# The browser test (dashboard/browsertest) runs this before it starts and
# skips with the reason when it cannot install the browser.
set -euo pipefail

find_browser() {
  for b in "${CRM_CHROMIUM:-}" chromium chromium-browser google-chrome; do
    [ -n "$b" ] || continue
    if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
  done
  return 1
}

install() {
  if find_browser >/dev/null; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then exec sudo -n "$0" install; fi
    echo "chromium: not installed and not root; run: apt-get install chromium" >&2
    return 1
  fi
  echo "chromium: installing Debian's chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  find_browser >/dev/null
}

case "${1:-install}" in
  install) install && find_browser ;;
  path) find_browser ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
