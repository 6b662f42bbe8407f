#!/usr/bin/env bash
# Runs every check of the project: formatting, clippy (warnings are errors), all tests,
# and the validation of every Discord body the tests produced against Discord's own
# OpenAPI schema. Installs the pinned Python tools it needs into .venv first.
#
#   scripts/test.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (.venv, pinned in scripts/requirements-test.txt)"
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
stamp=.venv/.requirements-test.txt
if ! cmp -s scripts/requirements-test.txt "$stamp"; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
  cp scripts/requirements-test.txt "$stamp"
fi
export PATH="$repo/.venv/bin:$PATH"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

bodies="$repo/target/discord-bodies"
rm -rf "$bodies"
mkdir -p "$bodies"
export DISCORD_BODIES_DIR="$bodies"

step "cargo test"
cargo test --all-targets --quiet
cargo test --doc --quiet

spec="$repo/../shared/reference/discord-api-spec/openapi.json"
step "Discord bodies against the OpenAPI schema IncomingWebhookRequestPartial"
if [[ -f "$spec" ]]; then
  .venv/bin/python scripts/validate_discord_bodies.py "$spec" "$bodies"
else
  echo "skipped: $spec is absent (it sits beside the checkout in the shared reference)"
fi

step "all checks passed"
