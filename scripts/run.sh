#!/usr/bin/env bash
# Install CohortDesk into .venv and start it on the embedded SQLite store (demo data offered).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
bootstrap
exec "$VENV/bin/cohortdesk" "$@"
