#!/usr/bin/env bash
# Makes sure a Chromium for the browser tests exists. Prints what it did; never fails the build:
# without Chromium the browser tests skip with the same hint.
set -u
for c in "${RECLAB_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$c" ] && [ -x "$c" ]; then
    exit 0
  fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests (apt-get, a few minutes the first time)..."
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null)"
    exit 0
  fi
  echo "apt-get could not install chromium; the browser tests will be skipped."
  exit 0
fi
cat <<'MSG'
Chromium was not found, so the browser tests will be skipped.
To run them, install Chromium and re-run `make test`:
  Debian/Ubuntu:  sudo apt-get install chromium
  macOS:          brew install --cask chromium, then export RECLAB_CHROMIUM="/Applications/Chromium.app/Contents/MacOS/Chromium"
MSG
exit 0
