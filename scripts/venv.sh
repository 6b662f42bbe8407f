#!/usr/bin/env bash
# Installs the project's pinned Python tools into .venv (git-ignored):
#   scripts/venv.sh            the tools the tests need (scripts/requirements-test.txt)
#   scripts/venv.sh infra      plus the AWS SAM CLI (infra/requirements.txt)
# Re-running is cheap: a requirements file is installed again only when it changed.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

[[ -x .venv/bin/python ]] || python3 -m venv .venv

install() {
  local requirements=$1 stamp=".venv/.$(echo "$1" | tr / _)"
  if ! cmp -s "$requirements" "$stamp"; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
  fi
}

install scripts/requirements-test.txt
if [[ "${1:-}" == infra ]]; then
  install infra/requirements.txt
fi
