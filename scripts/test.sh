#!/usr/bin/env bash
# The test command: install everything needed, make sure PostgreSQL is up, lint, type-check, run pytest, then
# (under CI) build the PyInstaller bundle and run its headless self-test (packaging/build.sh).
# Under CI=true an unreachable PostgreSQL fails the run instead of skipping its tests.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
# Validators for the Linux desktop files, checked by tests/packaging; PgBouncer for the pooler tests;
# Xvfb for the screen-size check under a real X server (tests/widgets/test_screen_sizes.py).
export COHORTDESK_EXTRA_APT="desktop-file-utils appstream pgbouncer xvfb xauth ${COHORTDESK_EXTRA_APT:-}"
# Under CI (or COHORTDESK_BUNDLE_TEST=1) the PyInstaller bundle is built and smoke-tested after pytest.
bundle_test=""
if [ "${CI:-}" = "true" ] || [ "${COHORTDESK_BUNDLE_TEST:-}" = "1" ]; then bundle_test=1; fi
bootstrap "test${bundle_test:+,package}"

if command -v pg_isready >/dev/null 2>&1 && [ -z "${COHORTDESK_TEST_PG_URL:-}" ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      echo "test: starting the local PostgreSQL cluster"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
      for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
  fi
fi

cd "$ROOT"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
lint_paths=()
for d in cohortdesk tests bench scripts migrations; do [ -d "$d" ] && lint_paths+=("$d"); done
"$VENV/bin/ruff" check "${lint_paths[@]}"
# Types of the Qt-free core (models/, db/, services/; the configuration is in pyproject.toml).
"$VENV/bin/python" -m mypy
# Byte-compile the project once: where PYTHONDONTWRITEBYTECODE is set (as on some CI machines) every
# process the tests start (render workers, CLI runs, screen checks) would otherwise compile it again.
"$VENV/bin/python" -m compileall -q -j 0 cohortdesk tests migrations bench >/dev/null
# pytest-xdist workers, one more than the cores: many tests wait on the server, a child process or a
# timer, and a third worker kept two cores 92 % busy against 83 % (suite 5 % faster). Tests are handed
# out in runs and an idle worker takes another's last ones; "-n 0" among the arguments runs everything
# in this one process instead.
workers=$(( $(nproc 2>/dev/null || echo 1) + 1 ))
"$VENV/bin/python" -m pytest -n "$workers" --dist worksteal "$@"
if [ -n "$bundle_test" ]; then
  echo "test: building the PyInstaller bundle and running its --self-test"
  started=$SECONDS
  PYTHON="$VENV/bin/python" packaging/build.sh
  echo "test: bundle built and self-tested in $((SECONDS - started)) s"
fi
