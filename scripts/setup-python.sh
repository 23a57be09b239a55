#!/usr/bin/env bash
# Create the project's virtualenv (default .venv) and install the package with its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
stamp="$venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
[ -f "$stamp" ] && exit 0
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q -e '.[dev]'
rm -f "$venv"/.installed-*
touch "$stamp"
echo "python environment ready in $venv"
