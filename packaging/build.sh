#!/usr/bin/env bash
# Build the one-folder bundle (dist/cohortdesk/) and run its headless self-test.
#   packaging/build.sh            build + self-test
#   packaging/build.sh --no-test  build only
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" packaging/cohortdesk.spec
echo "built $ROOT/dist/cohortdesk"
if [ "${1:-}" != "--no-test" ]; then
  home="$(mktemp -d)"
  QT_QPA_PLATFORM=offscreen COHORTDESK_HOME="$home" "$ROOT/dist/cohortdesk/cohortdesk" --self-test "$home/self-test.png"
  echo "self-test passed: $home/self-test.png"
fi
