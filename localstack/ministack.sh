#!/usr/bin/env bash
# Lifecycle of the local AWS emulator (MiniStack) that `make run` and
# `make test` deploy to. See localstack/README.md.
#
#   localstack/ministack.sh install|start|stop|status|ensure
#
# Next to MiniStack it runs the local X-Ray daemon stand-in (localstack/xray,
# built into .local/bin/), on UDP 127.0.0.1:$GATEWAY_PORT, which appends every
# segment the functions send to .local/traces.jsonl (traces-<port>.jsonl on
# another port) for `make trace`. It starts and stops with the emulator.
#
# GATEWAY_PORT picks the port (default 4566). SFN_WAIT_SCALE, when set, is
# passed to MiniStack, which multiplies every Step Functions Wait and Retry
# interval by it (0 skips them, 1 is real time, the default when unset):
# `make test` sets a small value so retries with the production backoff
# take a fraction of a second; `make run` leaves it unset. `ensure` prints `started` or
# `reused` on its last line so a caller knows whether it owns the emulator
# (and must stop it) or found one already running (and must leave it alone).
set -euo pipefail

readonly MINISTACK_VERSION=1.5.33
# MiniStack reads and writes CBOR (the AWS SDKs' rpcv2 protocol, which the
# Go SDK's CloudWatch client speaks: the deployer's alarms and dashboard)
# only with cbor2, which it lists as a test extra; without it every such
# call answers 500 ("No module named 'cbor2'").
readonly CBOR2_VERSION=6.3.0
# Only what the project uses: fewer services start faster and open no ports
# we do not need. (s3: Terraform's artifacts bucket, infra/modules/artifacts.)
readonly MINISTACK_SERVICES=lambda,dynamodb,dynamodbstreams,apigateway,iam,sts,logs,events,sqs,stepfunctions,ssm,secretsmanager,monitoring,sns,s3

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly VENV="$ROOT/.venv"
readonly STATE_DIR="$ROOT/.local"
readonly PORT="${GATEWAY_PORT:-4566}"
readonly START_TIMEOUT="${MINISTACK_START_TIMEOUT:-60}"
readonly STOP_TIMEOUT=10
readonly HEALTH_URL="http://127.0.0.1:$PORT/_localstack/health"

# The default port keeps the plain names the Makefile and docs use; any other
# port gets its own files, so a second emulator (a test run on another port)
# never overwrites the PID file of the first.
if [[ "$PORT" == 4566 ]]; then
  readonly PID_FILE="$STATE_DIR/ministack.pid" LOG_FILE="$STATE_DIR/ministack.log"
else
  readonly PID_FILE="$STATE_DIR/ministack-$PORT.pid" LOG_FILE="$STATE_DIR/ministack-$PORT.log"
fi
readonly LOCK_FILE="$STATE_DIR/ministack-$PORT.lock"
# The trace collector: its binary is shared by every port, its files are
# not (a second emulator gets a collector and a traces file of its own).
readonly XRAY_BIN="$STATE_DIR/bin/xray"
if [[ "$PORT" == 4566 ]]; then
  readonly XRAY_PID_FILE="$STATE_DIR/xray.pid" XRAY_LOG_FILE="$STATE_DIR/xray.log" TRACES_FILE="$STATE_DIR/traces.jsonl"
else
  readonly XRAY_PID_FILE="$STATE_DIR/xray-$PORT.pid" XRAY_LOG_FILE="$STATE_DIR/xray-$PORT.log" TRACES_FILE="$STATE_DIR/traces-$PORT.jsonl"
fi
readonly XRAY_ADDR="127.0.0.1:$PORT"

say() { printf 'ministack: %s\n' "$*"; }
die() { printf 'ministack: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<EOF
usage: $0 install|start|stop|status|ensure
  install  create .venv and install ministack==$MINISTACK_VERSION if missing or another version
  start    install if needed, start on 127.0.0.1:\$GATEWAY_PORT (now $PORT) unless something answers there,
           with the trace collector on UDP $XRAY_ADDR (into ${TRACES_FILE#"$ROOT"/})
  stop     stop the emulator this script started (PID file), with the Lambda processes it spawned and the collector
  status   say whether the emulator answers and whether this script owns it, and whether the collector runs
  ensure   start, then print 'started' (you own it: stop it) or 'reused' (leave it) on the last line
EOF
  exit 2
}

if ! [[ "$PORT" =~ ^[0-9]{1,5}$ ]] || ((PORT < 1 || PORT > 65535)); then
  die "GATEWAY_PORT must be a port number (1-65535), got '$PORT'"
fi

# Serialise start/stop per port: two `make test` runs starting at once must
# not both spawn an emulator, nor one stop it while the other starts it.
lock() {
  mkdir -p "$STATE_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$LOCK_FILE"
    flock -w 120 9 || die "another ministack.sh holds $LOCK_FILE"
  fi
}

installed_version() {
  [[ -x "$VENV/bin/ministack" && -x "$VENV/bin/python" ]] || return 0
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("ministack"))' 2>/dev/null || true
}

cbor2_installed() {
  [[ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("cbor2"))' 2>/dev/null)" == "$CBOR2_VERSION" ]]
}

cmd_install() {
  local have
  have=$(installed_version)
  if [[ "$have" == "$MINISTACK_VERSION" ]]; then
    if ! cbor2_installed; then
      say "installing cbor2==$CBOR2_VERSION"
      "$VENV/bin/pip" install --disable-pip-version-check --quiet "cbor2==$CBOR2_VERSION" || die "pip install cbor2==$CBOR2_VERSION failed"
    fi
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 is required to install MiniStack (>= 3.10)"
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "MiniStack needs Python >= 3.10; python3 is $(python3 -V 2>&1)"
  if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
  fi
  say "installing ministack==$MINISTACK_VERSION${have:+ (found $have)}"
  "$VENV/bin/pip" install --disable-pip-version-check --quiet "ministack==$MINISTACK_VERSION" "cbor2==$CBOR2_VERSION" ||
    die "pip install ministack==$MINISTACK_VERSION cbor2==$CBOR2_VERSION failed"
  have=$(installed_version)
  [[ "$have" == "$MINISTACK_VERSION" ]] || die "installed ministack reports version '${have:-none}', want $MINISTACK_VERSION"
}

healthy() { curl -fsS --max-time 2 -o /dev/null "$HEALTH_URL" 2>/dev/null; }

# port_open succeeds when anything accepts TCP connections on the port.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# owned_pid prints the PID from the PID file when that process is alive and
# is still a MiniStack (a recycled PID must never be signalled).
owned_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid=$(<"$PID_FILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q ministack || return 1
  printf '%s\n' "$pid"
}

# xray_pid prints the collector's PID from its PID file when that process
# is alive and is our collector for this port (its binary, its address): a
# recycled PID must never be signalled.
xray_pid() {
  [[ -f "$XRAY_PID_FILE" ]] || return 1
  local pid
  pid=$(<"$XRAY_PID_FILE")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
  [[ "$cmdline" == "$XRAY_BIN -addr $XRAY_ADDR "* ]] || return 1
  printf '%s\n' "$pid"
}

# build_xray builds the collector (go's build cache makes a rebuild of an
# unchanged tree a no-op).
build_xray() {
  command -v go >/dev/null 2>&1 || die "go is required to build the trace collector (localstack/xray)"
  mkdir -p "$(dirname "$XRAY_BIN")"
  (cd "$ROOT" && go build -trimpath -o "$XRAY_BIN" ./localstack/xray) || die "go build ./localstack/xray failed"
}

# start_xray starts the collector unless ours already runs, and waits until
# it listens: a port some other process holds on UDP fails here, loudly.
# With "fresh" (a new MiniStack: a clean slate) it empties the traces file;
# otherwise it appends to it.
start_xray() {
  local pid
  if pid=$(xray_pid); then
    return 0
  fi
  rm -f "$XRAY_PID_FILE"
  build_xray
  if [[ "${1:-}" == fresh ]]; then
    : >"$TRACES_FILE"
  fi
  # A session of its own: stop_pid signals MiniStack's process group, which
  # must not take the collector with it before its own stop; 9>&-: it must
  # not hold the lock.
  setsid "$XRAY_BIN" -addr "$XRAY_ADDR" -out "$TRACES_FILE" >"$XRAY_LOG_FILE" 2>&1 </dev/null 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$XRAY_PID_FILE"
  local deadline=$((SECONDS + 10))
  until grep -q '^xray: listening' "$XRAY_LOG_FILE" 2>/dev/null; do
    if ! alive "$pid"; then
      rm -f "$XRAY_PID_FILE"
      cat "$XRAY_LOG_FILE" >&2 || true
      die "the trace collector exited during start-up (UDP $XRAY_ADDR taken?)"
    fi
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$XRAY_PID_FILE"
      die "the trace collector did not listen on UDP $XRAY_ADDR within 10s"
    fi
    sleep 0.1
  done
  say "trace collector on udp://$XRAY_ADDR (pid $pid), writing ${TRACES_FILE#"$ROOT"/}"
}

# stop_xray stops our collector: SIGTERM, a few seconds, then SIGKILL.
stop_xray() {
  local pid
  if ! pid=$(xray_pid); then
    [[ ! -f "$XRAY_PID_FILE" ]] || say "trace collector (pid $(<"$XRAY_PID_FILE")) was not running; removed the stale PID file"
    rm -f "$XRAY_PID_FILE"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 5))
  while alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if alive "$pid"; then
    say "trace collector (pid $pid) ignored SIGTERM for 5s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$XRAY_PID_FILE"
  say "stopped the trace collector (pid $pid); traces kept in ${TRACES_FILE#"$ROOT"/}"
}

log_tail() {
  [[ -f "$LOG_FILE" ]] || return 0
  printf -- '--- last lines of %s ---\n' "$LOG_FILE" >&2
  tail -n 40 "$LOG_FILE" >&2
}

# START_RESULT is set by cmd_start for `ensure`: started or reused.
START_RESULT=""

cmd_start() {
  lock
  local pid
  if pid=$(owned_pid); then
    if healthy; then
      say "already running on port $PORT (pid $pid, started by this script)"
      start_xray
      START_RESULT=reused
      return 0
    fi
    die "MiniStack (pid $pid, started by this script) runs but does not answer $HEALTH_URL; run '$0 stop' and start again"
  fi
  if healthy; then
    say "an emulator already answers on 127.0.0.1:$PORT; using it, not taking ownership"
    START_RESULT=reused
    return 0
  fi
  if port_open; then
    die "port $PORT is taken by something that does not answer $HEALTH_URL; pick another GATEWAY_PORT"
  fi
  rm -f "$PID_FILE" # stale: its process is gone or is no emulator

  cmd_install
  mkdir -p "$STATE_DIR"
  # The collector first: a build or a port problem fails before MiniStack
  # runs, and it listens before any function can send a segment.
  start_xray fresh
  say "starting MiniStack $MINISTACK_VERSION on 127.0.0.1:$PORT (log: ${LOG_FILE#"$ROOT"/})${SFN_WAIT_SCALE:+, Step Functions waits scaled by $SFN_WAIT_SCALE}"
  # MiniStack runs provided.al2023 functions as host processes that inherit
  # its environment: AWS_ENDPOINT_URL and the test credentials make every
  # function call back into this emulator, never into a real account.
  # setsid gives it a process group of its own (pgid == pid), so stop can
  # signal it together with every bootstrap it spawned. 9>&-: the emulator
  # must not inherit the lock, or it would hold it for its whole life.
  env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_DEFAULT_PROFILE -u SFN_WAIT_SCALE \
    ${SFN_WAIT_SCALE:+SFN_WAIT_SCALE="$SFN_WAIT_SCALE"} \
    GATEWAY_PORT="$PORT" \
    BIND_HOST=127.0.0.1 \
    IOT_MTLS_ENABLED=0 \
    SFTP_ENABLED=0 \
    SERVICES="$MINISTACK_SERVICES" \
    MINISTACK_REGION="${MINISTACK_REGION:-us-east-1}" \
    AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" \
    AWS_ACCESS_KEY_ID=test \
    AWS_SECRET_ACCESS_KEY=test \
    AWS_REGION="${MINISTACK_REGION:-us-east-1}" \
    AWS_DEFAULT_REGION="${MINISTACK_REGION:-us-east-1}" \
    setsid "$VENV/bin/ministack" >"$LOG_FILE" 2>&1 </dev/null 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  until healthy; do
    if ! alive "$pid"; then
      rm -f "$PID_FILE"
      log_tail
      stop_xray
      die "MiniStack exited during start-up"
    fi
    if ((SECONDS >= deadline)); then
      log_tail
      stop_pid "$pid"
      rm -f "$PID_FILE"
      stop_xray
      die "MiniStack did not answer $HEALTH_URL within ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  say "ready on http://127.0.0.1:$PORT (pid $pid)"
  START_RESULT=started
}

# group_members prints the live (non-zombie) processes of process group $1.
group_members() {
  ps -eo pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# descendants prints every live descendant of $1, found by parent PID, so a
# child that left the process group (setsid of its own) is found as well.
descendants() {
  ps -eo pid=,ppid=,stat= | awk -v root="$1" '
    $3 !~ /^Z/ { parent[$1] = $2 }
    END {
      found[root] = 1
      do {
        grew = 0
        for (p in parent) if (!(p in found) && (parent[p] in found)) { found[p] = 1; grew = 1 }
      } while (grew)
      for (p in found) if (p != root) print p
    }'
}

alive() { ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'; }

# stop_pid stops MiniStack $1 and everything it spawned: SIGTERM to its
# process group, up to STOP_TIMEOUT seconds of grace, then SIGKILL. The
# bootstrap processes of warm Lambda environments are its children in the
# same group; once MiniStack is gone they are re-parented to init but keep
# the group, so the group (and the descendant list taken beforehand) still
# finds them.
stop_pid() {
  local pid=$1 stragglers
  stragglers=$(descendants "$pid" | tr '\n' ' ')
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while alive "$pid" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if alive "$pid"; then
    say "pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
  fi
  kill -KILL -- "-$pid" 2>/dev/null || true
  local p left=""
  for p in $(group_members "$pid") $stragglers; do
    if alive "$p"; then
      kill -KILL "$p" 2>/dev/null || true
      left+=" $p"
    fi
  done
  [[ -z "$left" ]] || say "killed leftover Lambda processes:$left"
  # MiniStack keeps its own PID file in the temp dir and removes it only on a
  # clean exit; drop it after a SIGKILL so it does not mislead `ministack --stop`.
  local tmp="${TMPDIR:-/tmp}"
  if [[ -f "$tmp/ministack-$PORT.pid" && "$(<"$tmp/ministack-$PORT.pid")" == "$pid" ]]; then
    rm -f "$tmp/ministack-$PORT.pid"
  fi
  # Its extracted function code (one directory per code version, named for
  # this port) is dead weight once it is gone; MiniStack itself only clears
  # it on a /_ministack/reset.
  rm -rf "$tmp/ministack-provided-code-$PORT"
}

cmd_stop() {
  lock
  stop_xray
  if [[ ! -f "$PID_FILE" ]]; then
    say "not started by this script on port $PORT (no ${PID_FILE#"$ROOT"/}); nothing to stop"
    return 0
  fi
  local pid
  if ! pid=$(owned_pid); then
    pid=$(<"$PID_FILE")
    # The emulator is gone, but bootstraps it spawned may have outlived it.
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -n "$(group_members "$pid")" ]]; then
      stop_pid "$pid"
    fi
    rm -f "$PID_FILE"
    say "MiniStack (pid $pid) was not running; removed the stale PID file"
    return 0
  fi
  say "stopping MiniStack on port $PORT (pid $pid)"
  stop_pid "$pid"
  rm -f "$PID_FILE"
  say "stopped"
}

cmd_status() {
  local pid owner
  if pid=$(xray_pid); then
    say "trace collector on udp://$XRAY_ADDR (pid $pid), $(wc -l <"$TRACES_FILE" 2>/dev/null || echo 0) documents in ${TRACES_FILE#"$ROOT"/}"
  else
    say "no trace collector of this script on udp://$XRAY_ADDR"
  fi
  if pid=$(owned_pid); then
    owner="started by this script, pid $pid"
  else
    owner="not started by this script"
  fi
  if healthy; then
    say "running on http://127.0.0.1:$PORT ($owner)"
    curl -fsS --max-time 2 "$HEALTH_URL"
    echo
    return 0
  fi
  say "not answering on port $PORT ($owner)"
  return 1
}

case "${1:-}" in
  install) cmd_install && say "ministack $MINISTACK_VERSION installed in ${VENV#"$ROOT"/}" ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  ensure)
    cmd_start
    echo "$START_RESULT"
    ;;
  *) usage ;;
esac
