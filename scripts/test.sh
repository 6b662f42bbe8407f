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

mkdir -p target

step "Python tools (.venv, pinned in scripts/requirements-test.txt)"
scripts/venv.sh
export PATH="$repo/.venv/bin:$PATH"

step "moto_server (DynamoDB and Secrets Manager for the tests, on 127.0.0.1, one request at a time)"
moto_port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/python scripts/moto_server_serial.py -H 127.0.0.1 -p "$moto_port" > target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$moto_port") 2>/dev/null; then break; fi
  sleep 0.1
done
export NOTIFIER_TEST_MOTO_ENDPOINT="http://127.0.0.1:$moto_port"
echo "moto_server on $NOTIFIER_TEST_MOTO_ENDPOINT (log: target/moto.log)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

bodies="$repo/target/discord-bodies"
rm -rf "$bodies"
mkdir -p "$bodies"
export DISCORD_BODIES_DIR="$bodies"

step "cargo test"
cargo test --quiet

step "cfn-lint infra/template.yaml"
cfn-lint infra/template.yaml
echo "template: no findings"

spec="$repo/../shared/reference/discord-api-spec/openapi.json"
step "Discord bodies against the OpenAPI schema IncomingWebhookRequestPartial"
if [[ -f "$spec" ]]; then
  .venv/bin/python scripts/validate_discord_bodies.py "$spec" "$bodies"
else
  echo "skipped: $spec is absent (it sits beside the checkout in the shared reference)"
fi

step "all checks passed"
