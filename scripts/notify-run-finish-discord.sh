#!/usr/bin/env bash
# Watch one run of the swarm runtime and post one Discord message when it has finished.
#
#   RUN_ID=<id> DISCORD_WEBHOOK_URL=<url> scripts/notify-run-finish-discord.sh
#
# Environment (each also a flag of `run-notifier watch`; see `run-notifier watch --help`):
#   BASE_URL            runtime base URL          (default http://127.0.0.1:5080)
#   RUN_ID              the run to watch          (required)
#   DISCORD_WEBHOOK_URL the webhook to post to    (required; a secret, never printed)
#   POLL_SECONDS        seconds between polls     (default 15; decimals allowed)
#   MAX_WAIT_SECONDS    give up after this long   (default 0 = wait forever)
#   FAIL_ON_ATTENTION   exit 1 on attention-required (0|1, default 0)
#   RUNTIME_API_KEY     sent as X-API-Key when set (a secret, never printed)
# Exit codes: 0 notified, 1 attention-required with FAIL_ON_ATTENTION=1, 2 bad
# configuration or unknown run, 3 MAX_WAIT_SECONDS passed, 4 webhook rejected,
# 5 finished but Discord unreachable until MAX_WAIT_SECONDS, 130 interrupted.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$repo/target/release/run-notifier"

# Build when the binary is missing or older than any source, so a fresh clone works and
# a pulled change is never watched by a stale binary. Build output goes to stderr.
if [[ ! -x "$bin" ]] || [[ -n "$(find "$repo/src" "$repo/Cargo.toml" "$repo/Cargo.lock" -newer "$bin" -print -quit 2>/dev/null)" ]]; then
  echo "building run-notifier (release; the first build takes a few minutes)..." >&2
  cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --bin run-notifier >&2
fi

exec "$bin" watch "$@"
