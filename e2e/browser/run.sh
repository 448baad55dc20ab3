#!/usr/bin/env bash
# Builds dmgraph, starts it on SQLite, and drives its GraphiQL page in
# headless Chromium (check.mjs). Installs Chromium and the npm packages it
# needs. Exits with the check's status.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
port="${PORT:-18932}"

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

tmp="$(mktemp -d)"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$root" && go build -o "$tmp/dmgraph" .)
PORT="$port" DATABASE_URL="sqlite:$tmp/b.db" JWT_SECRET=ci "$tmp/dmgraph" 2>"$tmp/server.log" &
server_pid=$!
up=
for _ in $(seq 1 100); do
  if curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"query":"{ __typename }"}' \
    "http://127.0.0.1:$port/query"; then up=1; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$up" ]; then echo "dmgraph did not answer on :$port" >&2; cat "$tmp/server.log" >&2; exit 1; fi

status=0
DMGRAPH_URL="http://127.0.0.1:$port" timeout 90 node "$here/check.mjs" || status=$?
if [ "$status" -ne 0 ]; then echo "--- server log" >&2; tail -n 50 "$tmp/server.log" >&2; fi
exit "$status"
