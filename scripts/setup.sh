#!/usr/bin/env bash
# Create .venv and install driftd with its test extras; re-installs only when pyproject changes.
# Usage: source scripts/setup.sh   (leaves the venv activated; returns non-zero on failure)
# Errors are checked explicitly: `set -e` is ignored when the caller sources this inside `&&`.
_driftd_setup() {
  local root py stamp hash
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  py="${PYTHON:-python3}"
  if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "driftd needs Python 3.11 or newer (found $("$py" --version 2>&1))" >&2
    return 1
  fi
  if [ ! -x "$root/.venv/bin/python" ]; then
    "$py" -m venv "$root/.venv" || return 1
  fi
  stamp="$root/.venv/.driftd-installed"
  hash="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
    echo "installing driftd and its dependencies into .venv ..." >&2
    "$root/.venv/bin/python" -m pip install -q --upgrade pip || return 1
    "$root/.venv/bin/python" -m pip install -q -e "$root[test]" || return 1
    echo "$hash" > "$stamp"
  fi
  # shellcheck disable=SC1091
  source "$root/.venv/bin/activate"
}
_driftd_setup
