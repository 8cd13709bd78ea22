#!/usr/bin/env bash
# Make .venv with labship (editable) and its test tools. Idempotent; sourced by the
# other scripts. Needs only python3 >= 3.11 and network access to the package index.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    # Debian/Ubuntu without python3-venv: bootstrap with uv from PyPI instead.
    rm -rf .venv
    python3 -m pip install --quiet --user --break-system-packages uv
    "$(python3 -m site --user-base)/bin/uv" venv --seed .venv
  fi
fi
if ! .venv/bin/python -c "import labship, pytest" 2>/dev/null || [ pyproject.toml -nt .venv/.labship-installed ]; then
  # uv installs in seconds what pip takes minutes to resolve; labship depends on it anyway.
  .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip >/dev/null
  .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
  .venv/bin/python -m uv pip install --quiet --python .venv/bin/python -e ".[test]"
  touch .venv/.labship-installed
fi
# An editable install leaves labship's bytecode to its first import, and with
# PYTHONDONTWRITEBYTECODE=1 to none: every command would compile ~25 modules anew.
# Compile them now (only what changed since); a wheel install does this itself.
.venv/bin/python -m compileall -q src/labship >/dev/null
