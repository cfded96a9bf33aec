#!/bin/bash
# The shipped unit (scripts/vigild.service) under a real systemd: PID 1 of a
# podman container (--systemd=always) whose root is an overlay of this
# host's (--rootfs /:O: systemd, libraries and the build tree as they are
# here, writes stay in the container). Asserts: vigild gets active (Type=
# notify: only after READY=1) with its STATUS=; the pin directory is
# writable under the hardening (ProtectKernelTunables= made all of /sys
# read-only, bpffs included, and ReadWritePaths= could not reopen it: vigild
# failed to start under the unit); the watchdog is fed (no restart after
# twice WatchdogSec); a reload; a restart with a tracked connection open (the
# start-up census of the tracked sockets enters every namespace and runs a
# BPF iterator: setns and bpf under RestrictNamespaces= and the system-call
# filter) keeps it tracked; vigilctl outside the unit sees the
# pins and the heartbeat; a stop. The container has its own bpffs instance;
# it shares the host's network (its probes and the tracked connection are
# on loopback, at VGL_PORT). Under the unit, /healthz, /readyz and /metrics
# answer, and `journalctl -u vigild VIGIL_BACKEND=...` finds the line about a
# refused connect to the watched backend (the journal's fields, with the
# unit's own -u match).
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
require_env
command -v podman >/dev/null || skip "podman not installed"
# crun refuses a hybrid cgroup hierarchy (this VM's); runc runs it.
command -v runc >/dev/null || skip "runc not installed"
[[ -x /lib/systemd/systemd ]] || skip "systemd not installed on this host (the container's root is the host's)"

CT="vigil-test-$VGL_ID-systemd"
PIN=/sys/fs/bpf/vigil-unit
ctx() { timeout 60 podman exec "$CT" "$@"; }
prop() { ctx systemctl show vigild -p "$1" --value; }
ctl() { ctx /usr/local/bin/vigilctl --pin-dir "$PIN" "$@"; }
on_cleanup podman rm -f -t 0 "$CT"

# The limits podman sets by default are above what this VM lets root raise
# (no CAP_SYS_RESOURCE); /tmp and /run without copying the host's in.
podman --runtime runc run -d --name "$CT" --privileged --systemd=always --network=host \
	--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096 \
	--tmpfs /tmp:rw,notmpcopyup --tmpfs /run:rw,notmpcopyup \
	--rootfs /:O /lib/systemd/systemd >/dev/null || die "cannot start the systemd container"
booted() { [[ $(ctx systemctl is-system-running 2>/dev/null) =~ ^(running|degraded)$ ]]; }
wait_until 30 booted || die "systemd in the container did not finish booting"
log "systemd $(ctx systemctl --version | head -n1 | cut -d' ' -f2) is PID 1 ($(ctx cat /proc/1/comm)) in $CT"

ctx sh -ec "
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	install -m 755 '$BUILD/vigild' /usr/local/sbin/vigild
	install -m 755 '$BUILD/vigilctl' /usr/local/bin/vigilctl
	install -m 644 '$VGL_ROOT/scripts/vigild.service' /etc/systemd/system/vigild.service
	mkdir -p /etc/vigil
	printf 'daemon:\n  pin_dir: $PIN\n  log_level: info\n  sched_priority: 0\nwatch:\n  backends: [\"127.0.0.1:$VGL_PORT\"]\nmetrics:\n  listen: \"127.0.0.1:$VGL_METRICS_PORT\"\n' >/etc/vigil/vigil.yaml
	chmod 644 /etc/vigil/vigil.yaml
	systemctl daemon-reload" || die "installing vigil in the container failed"

# ---- start --------------------------------------------------------------------------
ctx systemctl start vigild || { ctx journalctl -u vigild --no-pager | tail -n 20 >&2; die "systemctl start vigild failed"; }
assert_eq "active after start" active "$(prop ActiveState)"
assert_true "STATUS= from vigild" grep -q "watching 1 endpoints" <<<"$(prop StatusText)"
MAINPID=$(prop MainPID)
assert_eq "vigilctl: vigild running" true "$(ctl stats --json | jq -c .vigild.running)"
assert_eq "vigilctl: its pid" "$MAINPID" "$(ctl stats --json | jq -c .vigild.pid)"

# ---- the metrics endpoint and the journal's fields under the unit ---------------------------
# (The container shares the host's network: vigild listens on the host's loopback.)
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$VGL_METRICS_PORT$1"; }
assert_eq "/healthz under the unit" 200 "$(http_code /healthz)"
assert_eq "/readyz under the unit" 200 "$(http_code /readyz)"
assert_true "/metrics under the unit" grep -q '^vigil_build_info{' \
	<<<"$(curl -sf --max-time 5 "http://127.0.0.1:$VGL_METRICS_PORT/metrics")"
# Nothing listens on the watched backend yet: a refused connect, which vigild
# logs with the backend as a journal field.
(exec 3<>"/dev/tcp/127.0.0.1/$VGL_PORT") 2>/dev/null && die "something listens on 127.0.0.1:$VGL_PORT"
by_backend() {
	ctx journalctl -u vigild --no-pager -o json VIGIL_BACKEND="127.0.0.1:$VGL_PORT" |
		jq -e -s 'any(.[]; (.MESSAGE | startswith("failure kind=refused")) and .PRIORITY == "6")' >/dev/null
}
assert_true "journalctl -u vigild VIGIL_BACKEND=127.0.0.1:$VGL_PORT: the refused connect" \
	wait_until 5 by_backend

# ---- a tracked connection; the watchdog ------------------------------------------------
ctx sh -c "exec python3 -c '
import socket, time
l = socket.create_server((\"127.0.0.1\", $VGL_PORT))
c = socket.create_connection((\"127.0.0.1\", $VGL_PORT))
a, _ = l.accept()
time.sleep(60)' >/dev/null 2>&1 &" || die "cannot start the tracked connection"
tracked() { (($(ctl stats --json | jq .inflight) >= 1)); }
assert_true "the connection is tracked" wait_until 5 tracked
sleep 6 # twice WatchdogSec=3
assert_eq "restarts after twice WatchdogSec" 0 "$(prop NRestarts)"
assert_eq "same main pid (not restarted by the watchdog)" "$MAINPID" "$(prop MainPID)"

# ---- reload, restart ---------------------------------------------------------------------
ctx systemctl reload vigild || die "systemctl reload failed"
assert_true "reloaded" wait_until 5 eval "ctx journalctl -u vigild --no-pager | grep -q 'config reloaded'"
assert_eq "active after reload" active "$(prop ActiveState)"
ctx systemctl restart vigild || die "systemctl restart failed"
assert_eq "active after restart" active "$(prop ActiveState)"
JOURNAL=$(ctx journalctl -u vigild --no-pager)
assert_eq "socket census refused under the unit" 0 "$(grep -c 'cannot list the TCP sockets\|cannot load the TCP socket iterator' <<<"$JOURNAL")"
# The connection's state is in its socket's storage: a restart keeps it.
assert_true "the live connection is still tracked" tracked

# ---- stop ----------------------------------------------------------------------------------
ctx systemctl stop vigild
assert_eq "inactive after stop" inactive "$(prop ActiveState)"
assert_eq "vigilctl: vigild not running after stop" false "$(ctl stats --json | jq -c .vigild.running)"
ctx /usr/local/sbin/vigild --unpin -c /etc/vigil/vigil.yaml || warn "unpin in the container failed"

((VGL_FAILS == 0)) || { ctx journalctl -u vigild --no-pager | tail -n 30 | sed 's/^/  /' >&2; }
finish
