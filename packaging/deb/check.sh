#!/usr/bin/env bash
# Build the Debian package, install it, use it, then remove and purge it; prints timings.
# Needs root and a machine where installing a package is acceptable (CI, a container).
# Extra arguments go to build.sh (e.g. --no-gui).
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() {
    echo "check.sh: FAILED: $*" >&2
    exit 1
}
now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" -eq 0 ] || fail "must run as root: it installs and removes the package"
if dpkg -s upsight >/dev/null 2>&1; then
    fail "upsight is already installed on this machine; remove it first (dpkg -P upsight)"
fi

start=$(now)
deb=$(bash packaging/deb/build.sh "$@") || fail "building the package failed"
built=$(now)
size_kb=$(( $(stat -c %s "$deb") / 1024 ))
echo "built $deb: $(seconds "$start" "$built") s, $size_kb KiB"

policy=/etc/upsight/policies/managed/50-package-check.json
work=$(mktemp -d)
agent_pid=""
cleanup() {
    [ -z "$agent_pid" ] || kill "$agent_pid" 2>/dev/null || true
    rm -f "$policy"
    rm -rf "$work"
    if dpkg -s upsight >/dev/null 2>&1; then
        dpkg -P upsight >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

start=$(now)
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || fail "dpkg -i failed (missing Depends? apt-get install \
python3 libusb-1.0-0 adduser): $(tail -5 "$work/dpkg.log")"
installed=$(now)
echo "installed in $(seconds "$start" "$installed") s"

version=$(dpkg-query -W -f '${Version}' upsight)
[ "$(upsight --version)" = "upsight $version" ] \
    || fail "upsight --version did not print 'upsight $version'"

getent passwd upsight >/dev/null || fail "postinst did not create the upsight account"
id -nG upsight | grep -qw dialout || fail "the upsight account is not in dialout"
[ "$(stat -c '%G %a' /etc/upsight)" = "upsight 775" ] \
    || fail "/etc/upsight is not group upsight, mode 775"
[ -f /lib/udev/rules.d/60-upsight-hid.rules ] || fail "the udev rule is not installed"
unit=/lib/systemd/system/upsight.service
grep -qx 'ExecStart=/opt/upsight/venv/bin/upsight run --system' "$unit" \
    || fail "the systemd unit does not start /opt/upsight/venv/bin/upsight run --system"
if command -v systemd-analyze >/dev/null 2>&1; then
    complaints=$(systemd-analyze verify --man=no "$unit" 2>&1 || true)
    [ -z "$complaints" ] || fail "systemd-analyze verify: $complaints"
fi

cat > "$policy" <<'JSON'
{"schema_version": 1, "policies": {"Settings": {"agent.poll_interval_s": 7}}}
JSON
shown=$(upsight policy show) || fail "upsight policy show failed"
grep -E "Settings\.agent\.poll_interval_s +7 +machine +locked +$policy" <<<"$shown" >/dev/null \
    || fail "upsight policy show does not list the managed setting from $policy: $shown"
config=$(env UPSIGHT_CONFIG_DIR="$work/config" upsight config show)
locked="agent.poll_interval_s = 7.0  # locked: managed by your organization ($policy)"
grep -qF "$locked" <<<"$config" \
    || fail "upsight config show does not mark the locked setting: $config"

status=$(upsight status --device sim://normal) || fail "upsight status --device sim://normal failed"
grep -qx "ups.status: OL" <<<"$status" \
    || fail "upsight status did not report ups.status: OL: $status"

# The installed agent starts, serves its socket and stops cleanly on SIGTERM.
env UPSIGHT_CONFIG_DIR="$work/config" UPSIGHT_DATA_DIR="$work/data" \
    UPSIGHT_RUNTIME_DIR="$work/run" upsight run --device sim://normal 2>"$work/agent.log" &
agent_pid=$!
for _ in $(seq 100); do
    [ -S "$work/run/agent.sock" ] && break
    kill -0 "$agent_pid" 2>/dev/null \
        || fail "the installed agent exited: $(tail -5 "$work/agent.log")"
    sleep 0.1
done
[ -S "$work/run/agent.sock" ] || fail "the installed agent did not open its socket in 10 s"
kill -TERM "$agent_pid"
code=0
wait "$agent_pid" || code=$?
agent_pid=""
[ "$code" -eq 0 ] || fail "the installed agent exited with $code on SIGTERM"

rm -f "$policy"
dpkg -r upsight >"$work/dpkg.log" 2>&1 || fail "dpkg -r failed: $(tail -5 "$work/dpkg.log")"
[ ! -e /usr/bin/upsight ] || fail "/usr/bin/upsight is still there after dpkg -r"
dpkg -P upsight >"$work/dpkg.log" 2>&1 || fail "dpkg -P failed: $(tail -5 "$work/dpkg.log")"
[ ! -e /opt/upsight ] || fail "/opt/upsight is still there after purge"
[ ! -e /etc/upsight ] || fail "/etc/upsight is still there after purge"
echo "package check passed"
