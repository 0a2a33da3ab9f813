#!/usr/bin/env bash
# Prepares a fresh machine for CohortDesk: finds Python 3.12+, creates .venv, installs the package
# (with the test extra when asked) and, on Debian/Ubuntu as root, the system libraries Qt needs.
# Sourced by scripts/run.sh and scripts/test.sh; idempotent and quick when everything is in place.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${COHORTDESK_VENV:-$ROOT/.venv}"

find_python() {
  local candidate
  for candidate in "${COHORTDESK_PYTHON:-}" python3.13 python3.12 \
      "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 \
      /root/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.12*/bin/python3 \
      /usr/local/bin/python3.13 /usr/local/bin/python3.12 /usr/bin/python3.13 /usr/bin/python3.12 python3; do
    [ -n "$candidate" ] || continue
    # Not 3.12.0/3.12.1: 3.12.1 segfaulted here in xml.etree (openpyxl reading on a worker thread).
    if "$candidate" -c 'import sys; raise SystemExit(sys.version_info < (3, 12, 2))' >/dev/null 2>&1; then
      command -v "$candidate" 2>/dev/null || echo "$candidate"
      return 0
    fi
  done
  return 1
}

apt_install() {
  # Only on Debian-like systems, only as root, only what is missing.
  command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] || return 0
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bootstrap: installing ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

bootstrap() {
  local extra="${1:-}"
  # Libraries the Qt wheels load at run time (xcb for a real screen, EGL/GL, fonts, D-Bus).
  apt_install libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 fonts-dejavu-core \
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0 \
    libxcb-image0 libxcb-xinerama0 libnss3 ${COHORTDESK_EXTRA_APT:-}
  local python
  python="$(find_python)" || { echo "bootstrap: CohortDesk needs Python 3.12 or newer" >&2; exit 1; }
  if [ ! -x "$VENV/bin/python" ]; then
    "$python" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
  fi
  local spec="$ROOT"
  [ -n "$extra" ] && spec="$ROOT[$extra]"
  "$VENV/bin/python" -m pip install -q -e "$spec"
}
