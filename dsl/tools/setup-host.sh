#!/usr/bin/env bash
# Prepare this machine to run podplay: Debian packages, a running Docker engine, kernel limits.
# Idempotent and quiet when there is nothing to do. Needs root (or sudo) only when it must
# install packages or start the engine.
set -euo pipefail

PACKAGES=(docker.io iptables debootstrap busybox-static openssh-client conntrack dnsutils curl ca-certificates python3-venv)

log() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Many node containers each run systemd and dockerd: give them enough inotify instances.
for kv in fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=1048576; do
  key=${kv%%=*}; want=${kv#*=}
  have=$(sysctl -n "$key" 2>/dev/null || echo 0)
  if [ "$have" -lt "$want" ]; then as_root sysctl -qw "$kv" >/dev/null || true; fi
done

if ! docker info >/dev/null 2>&1; then
  if [ -S /var/run/docker.sock ] && pgrep -x dockerd >/dev/null; then
    log "waiting for the running Docker engine"
  else
    # A dockerd killed with its session leaves a pid file that blocks the next start.
    if [ -f /var/run/docker.pid ] && ! pgrep -x dockerd >/dev/null; then
      as_root rm -f /var/run/docker.pid
    fi
    if command -v systemctl >/dev/null && [ "$(ps -o comm= -p 1)" = systemd ]; then
      log "starting the Docker engine (systemd)"
      as_root systemctl start docker
    else
      log "starting the Docker engine (dockerd in the background, log in /var/log/dockerd.log)"
      as_root sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
    fi
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "the Docker engine did not start; see /var/log/dockerd.log"; exit 1; }
fi
