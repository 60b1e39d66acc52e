#!/usr/bin/env bash
# The test suite (README's second command). Installs first if .venv is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || bash scripts/setup.sh --install
.venv/bin/ruff check irkit tests benchmarks scripts
.venv/bin/ruff format --check -q irkit tests benchmarks scripts
exec .venv/bin/pytest -q "$@"
