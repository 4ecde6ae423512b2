#!/usr/bin/env bash
# start-dockerd.sh makes sure a Docker engine answers and prints the one line
# `DOCKER_HOST=unix://...` that reaches it, so callers can
#   export "$(scripts/start-dockerd.sh)"
# An engine already answering at $DOCKER_HOST or the default socket is reused.
# Otherwise a private dockerd is started under $BAKEHOUSE_DOCKERD_DIR (default
# /var/lib/bakehouse-dockerd) with --bridge=none, so containers get only a
# loopback interface and nothing can leave the machine. Safe to run many times
# and concurrently: a lock serialises starts and a running engine is reused.
# Diagnostics go to stderr; needs root to start an engine.
set -euo pipefail

dir=${BAKEHOUSE_DOCKERD_DIR:-/var/lib/bakehouse-dockerd}
timeout_s=${BAKEHOUSE_DOCKERD_TIMEOUT:-60}
sock="unix://$dir/docker.sock"

answers() { # answers HOST: true when a Docker engine replies at HOST.
	DOCKER_HOST=$1 timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

for host in "${DOCKER_HOST:-}" unix:///var/run/docker.sock "$sock"; do
	if [ -n "$host" ] && answers "$host"; then
		echo "DOCKER_HOST=$host"
		exit 0
	fi
done

command -v dockerd >/dev/null || {
	echo "start-dockerd: dockerd not found; install it: apt-get install -y docker.io" >&2
	exit 1
}
mkdir -p "$dir/data" "$dir/exec"
exec 9>"$dir/lock"
flock -w "$timeout_s" 9 || { echo "start-dockerd: $dir/lock is held by another start" >&2; exit 1; }

# Another caller may have started the engine while this one waited for the lock.
if ! answers "$sock"; then
	echo "start-dockerd: starting dockerd in $dir (log: $dir/dockerd.log)" >&2
	setsid dockerd \
		--host "$sock" \
		--data-root "$dir/data" \
		--exec-root "$dir/exec" \
		--pidfile "$dir/docker.pid" \
		--bridge=none --iptables=false --ip-forward=false \
		</dev/null >>"$dir/dockerd.log" 2>&1 9>&- &
	pid=$!
	deadline=$((SECONDS + timeout_s))
	until answers "$sock"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "start-dockerd: dockerd exited; last lines of $dir/dockerd.log:" >&2
			tail -n 20 "$dir/dockerd.log" >&2
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "start-dockerd: dockerd (pid $pid) did not answer within ${timeout_s}s; see $dir/dockerd.log" >&2
			exit 1
		fi
		sleep 0.5
	done
fi
echo "DOCKER_HOST=$sock"
