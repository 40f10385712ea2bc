#!/usr/bin/env bash
# System packages some tests need (promtool for alert rules, jq and curl for the runbooks,
# Chromium for the dashboard, espeak-ng for speech).
# Installed from Debian's packages when missing; a no-op when they are present.
set -euo pipefail
# What the service itself needs (Pango for PDF reports) first.
bash "$(dirname "$0")/run-deps.sh"
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# The runbook acceptance test runs the runbooks' own curl | jq command lines.
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# The dashboard's browser tests drive Debian's Chromium through Playwright.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# Speech tests synthesise real speech offline.
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test-deps: please install: ${missing[*]}" >&2
  fi
fi
# Chromium must start, not only be on the PATH (a fresh machine may lack a library it needs):
# load an empty page headless. Under CI=true a Chromium that cannot run stops the test set-up,
# as the browser tests would fail anyway.
chromium_runs() {
  local profile status
  profile="$(mktemp -d)"
  status=0
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --no-first-run --user-data-dir="$profile" --dump-dom about:blank >/dev/null 2>&1 || status=$?
  rm -rf "$profile"
  return "$status"
}
if ! command -v chromium >/dev/null 2>&1 || ! chromium_runs; then
  echo "test-deps: Chromium is missing or does not start (apt-get install chromium)" >&2
  if [ "${CI:-}" = "true" ]; then
    exit 1
  fi
fi
