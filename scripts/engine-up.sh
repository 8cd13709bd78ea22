#!/usr/bin/env bash
# Bring up a real Docker engine and the registry-free base image labship's tests use.
# Idempotent: every step checks first and says what it did or skipped.
# Usage: sudo scripts/engine-up.sh   (CI runs it as root before the docker tests)
set -euo pipefail

DOCKER=/usr/bin/docker            # Debian's 20.10 client: BuildKit via DOCKER_BUILDKIT=1
BASE_DEBIAN=local/debian:bookworm
BASE_PYTHON=local/python:3.11-slim
LOG=/var/log/dockerd.log
SOCK=/var/run/docker.sock
CA_BUNDLE=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}

say() { printf 'engine-up: %s\n' "$*"; }

# 1. packages
missing=()
[ -x /usr/sbin/dockerd ] && [ -x "$DOCKER" ] || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
[ -x /usr/sbin/cron ] && [ -x /usr/bin/crontab ] || missing+=(cron)   # the schedule tests' daemon
# a loopback image registry and htpasswd for the push tests
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)   # bench/bench_serve.py's load generator
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  say "docker.io, docker-compose, debootstrap, cron, docker-registry, apache2-utils, wrk already installed"
fi

# 2. daemon
if "$DOCKER" info >/dev/null 2>&1; then
  say "engine already answering on $SOCK"
else
  say "starting dockerd (log: $LOG)"
  nohup /usr/sbin/dockerd --iptables=false --storage-driver=overlay2 >"$LOG" 2>&1 &
  for _ in $(seq 1 60); do
    [ -S "$SOCK" ] && "$DOCKER" info >/dev/null 2>&1 && break
    sleep 1
  done
  "$DOCKER" info >/dev/null 2>&1 || { say "dockerd did not answer in 60 s; see $LOG"; tail -20 "$LOG"; exit 1; }
  say "engine up ($("$DOCKER" version --format '{{.Server.Version}}'))"
fi

# 3. local/debian:bookworm from debootstrap (no registry can be reached)
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
if "$DOCKER" image inspect "$BASE_DEBIAN" >/dev/null 2>&1; then
  say "$BASE_DEBIAN present"
else
  rootfs=$(mktemp -d /tmp/labship-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  say "debootstrap minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/tmp/labship-debootstrap.log 2>&1 \
    || { say "debootstrap failed; see /tmp/labship-debootstrap.log"; exit 1; }
  tar -C "$rootfs" -c . | "$DOCKER" import - "$BASE_DEBIAN" >/dev/null
  rm -rf "$rootfs"; trap - EXIT
  say "imported $BASE_DEBIAN"
fi

# 4. local/python:3.11-slim: Debian's python3 (3.11) standing in for the official slim image
if "$DOCKER" image inspect "$BASE_PYTHON" >/dev/null 2>&1; then
  say "$BASE_PYTHON present"
else
  ctx=$(mktemp -d /tmp/labship-base.XXXXXX)
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE_DEBIAN
RUN --mount=type=secret,id=ca,target=/run/secrets/ca \\
    printf 'deb $mirror bookworm main\ndeb $mirror bookworm-updates main\n' >/etc/apt/sources.list \\
 && apt-get -o Acquire::https::CAInfo=/run/secrets/ca update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::https::CAInfo=/run/secrets/ca \\
      install -y -qq --no-install-recommends python3 python3-venv ca-certificates \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8
CMD ["python3"]
DOCKERFILE
  say "building $BASE_PYTHON"
  DOCKER_BUILDKIT=1 "$DOCKER" build --progress=plain --network=host \
    --secret id=ca,src="$CA_BUNDLE" -t "$BASE_PYTHON" "$ctx" >/tmp/labship-base-build.log 2>&1 \
    || { say "base build failed; see /tmp/labship-base-build.log"; tail -20 /tmp/labship-base-build.log; exit 1; }
  rm -rf "$ctx"
  say "built $BASE_PYTHON ($("$DOCKER" run --rm "$BASE_PYTHON" python3 --version))"
fi
say "ready: use LABSHIP_BASE_IMAGE=$BASE_PYTHON for builds without a registry"
