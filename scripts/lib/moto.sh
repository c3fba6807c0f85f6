# Starts moto (DynamoDB- and SSM-compatible) on a free 127.0.0.1 port and exports
# DYNAMODB_ENDPOINT; sourced by scripts/test and tests/e2e/run. Needs $VENV with moto[server].
# Sets moto_pid; the caller stops it (kill "$moto_pid") in its EXIT trap.
start_moto() {
  local port log
  port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log=$(mktemp)
  # One request at a time: see scripts/moto_server.py for why.
  "$VENV/bin/python" scripts/moto_server.py "$port" >"$log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 1 150); do
    if "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
      export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.2
  done
  echo "moto did not start; its log:" >&2
  cat "$log" >&2
  return 1
}
