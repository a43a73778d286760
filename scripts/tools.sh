#!/usr/bin/env bash
# Real tools the tests talk to, installed from Debian packages when missing:
# prometheus-alertmanager, promtool/prometheus for the rules, chromium for the report pages. Root with apt-get only;
# elsewhere the tests that need them skip (CI=true turns a skip into a failure).
# Usage: source scripts/tools.sh   (returns non-zero only when CI=true and an install failed)
_driftd_tools() {
  local missing=() pkg bin
  for pair in prometheus-alertmanager:prometheus-alertmanager promtool:prometheus \
      chromium:chromium; do
    bin="${pair%%:*}"; pkg="${pair##*:}"
    command -v "$bin" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "not installing ${missing[*]} (needs root and apt-get): their tests will skip" >&2
    return 0
  fi
  echo "installing ${missing[*]} (Debian packages) ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
      echo "could not install ${missing[*]}" >&2
      case "${CI:-}" in 1|true|TRUE|yes) return 1 ;; esac
    fi
  fi
  # The package enables a system service; the tests start their own instance.
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus-alertmanager prometheus >/dev/null 2>&1 || true
  fi
  return 0
}
_driftd_tools
