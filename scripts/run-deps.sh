#!/usr/bin/env bash
# System libraries the service itself uses: Pango for PDF reports (WeasyPrint lays text out with
# it; its fonts come with fontconfig). Installed from Debian's packages when missing; a no-op
# when they are present. Without them everything but PDF reports works (those answer 503).
set -euo pipefail
has_pango() {
  compgen -G '/usr/lib/*/libpangoft2-1.0.so.0' >/dev/null || compgen -G '/usr/lib/libpangoft2-1.0.so.0' >/dev/null
}
if ! has_pango; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 >/dev/null
  else
    echo "run-deps: PDF reports need Pango: please install libpango-1.0-0 libpangoft2-1.0-0" >&2
  fi
fi
