#!/usr/bin/env bash
# Prepares this checkout on a Debian machine: a running Docker Engine (installed from Debian's docker.io and
# started in the background when none responds and this runs as root), busybox-static, the npm packages,
# the TypeScript build and the local base image kohakuriver/kohakuriver-base:base. Every step is skipped
# when its result is already there, so running it again is cheap.
#
# Usage: scripts/setup.sh [--no-docker] [--with-postgres] [--with-test-images]
#   --no-docker         skip the Docker Engine, busybox-static and the base image
#   --with-postgres     also make sure the PostgreSQL server binaries (initdb) are installed
#   --with-test-images  also build the Debian image without sshd that the VPS tests use (debootstrap,
#                       about 1 to 3 minutes the first time; the image is cached by tag)
#
# The engine started here logs to /var/log/kohakuriver-dockerd.log, and its process id is written to
# /run/kohakuriver-setup-dockerd.pid so that scripts/test.sh can stop it again in CI.
set -euo pipefail

with_docker=1
with_postgres=0
with_test_images=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-docker) with_docker=0 ;;
    --with-postgres) with_postgres=1 ;;
    --with-test-images) with_test_images=1 ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    *)
      echo "setup: unknown option '$1' (see --help)" >&2
      exit 2
      ;;
  esac
  shift
done

cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# dockerd and iptables live in the sbin directories, which some non-login shells leave out of PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

DEFAULT_DOCKER_SOCKET="unix:///var/run/docker.sock"
DOCKERD_LOG="/var/log/kohakuriver-dockerd.log"
DOCKERD_PIDFILE="/var/run/docker.pid"
STARTED_MARKER="/run/kohakuriver-setup-dockerd.pid"
DOCKER_WAIT_SECONDS=60

log() { echo "setup: $*"; }
fail() {
  echo "setup: $*" >&2
  exit 1
}

is_root() { [ "$(id -u)" = 0 ]; }
can_apt() { is_root && command -v apt-get >/dev/null 2>&1; }

apt_updated=0
# Installs Debian packages, running `apt-get update` once per setup run and only when something is installed.
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    log "updating the apt package lists"
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt_updated=1
  fi
  log "installing $*"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >/dev/null
}

# Installs the packages for the commands that are missing; as a non-root user it only names them.
ensure_commands() {
  local missing=() pair command package
  for pair in "$@"; do
    command="${pair%%:*}"
    package="${pair#*:}"
    command -v "$command" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0

  if can_apt; then
    apt_install "${missing[@]}"
  else
    log "WARNING: missing ${missing[*]}; some tests need them (as root: apt-get install ${missing[*]})"
  fi
}

# --- Docker Engine ---------------------------------------------------------------------------------------

docker_version=""
docker_error=""
# Sets docker_version when the engine responds, and docker_error to the reason when it does not.
docker_responds() {
  local output
  if ! command -v docker >/dev/null 2>&1; then
    docker_error="the docker command is not installed"
    return 1
  fi
  if output=$(timeout 20 docker version --format '{{.Server.Version}}' 2>&1); then
    docker_version="$output"
    return 0
  fi
  docker_error=$(printf '%s\n' "$output" | grep -v '^[[:space:]]*$' | tail -n 1)
  return 1
}

# Prints the process id of the dockerd that serves the default socket: the one named in the default pidfile,
# or one still starting that has not written it yet. A dockerd started with its own --host (such as the
# per-namespace engines of multi-node tests) serves another socket and is ignored.
running_dockerd_pid() {
  local pid
  pid=$(cat "$DOCKERD_PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    echo "$pid"
    return 0
  fi

  for pid in $(pgrep -x dockerd || true); do
    if ! tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE '^(-H|--host)(=|$)'; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

# Waits until the engine responds. Returns non-zero when the given dockerd exits first or the wait times out.
wait_for_docker() {
  local pid="${1:-}" waited=0
  while [ "$waited" -lt "$DOCKER_WAIT_SECONDS" ]; do
    docker_responds && return 0
    if [ -n "$pid" ] && [ ! -d "/proc/$pid" ]; then return 1; fi
    sleep 1
    waited=$((waited + 1))
  done
  return 1
}

print_docker_instructions() {
  cat >&2 <<EOF
setup: no Docker Engine responds ($docker_error).
setup: install and start one as root, for example:
setup:   apt-get install docker.io busybox-static iproute2 openssh-client
setup:   nohup dockerd >$DOCKERD_LOG 2>&1 &
setup: or let a non-root user use an existing engine (usermod -aG docker \$USER, then log in again),
setup: or rerun with --no-docker to skip Docker and the base image.
EOF
}

# Starts dockerd detached from this shell, so that it outlives setup and keeps none of its output streams open.
# Sets launcher_pid to a process that lives exactly as long as dockerd (`setsid -w` waits for it).
start_dockerd() {
  log "starting dockerd${*:+ $*} (log: $DOCKERD_LOG)"
  echo "--- $(date -u +%FT%TZ) setup.sh starts dockerd $*" >>"$DOCKERD_LOG"
  setsid -w nohup dockerd "$@" >>"$DOCKERD_LOG" 2>&1 </dev/null &
  launcher_pid=$!
}

# Starts dockerd and waits until it responds, retrying once without iptables when iptables setup fails.
start_and_wait_for_dockerd() {
  start_dockerd
  wait_for_docker "$launcher_pid" && return 0

  # Some kernels and sandboxes lack the iptables NAT table. Without iptables, containers still reach each
  # other and the host over the bridge, and published ports go through docker-proxy.
  if [ ! -d "/proc/$launcher_pid" ] && tail -n 30 "$DOCKERD_LOG" | grep -qi 'iptables'; then
    log "dockerd failed to set up iptables; starting it again with --iptables=false"
    start_dockerd --iptables=false --ip-masq=false
    wait_for_docker "$launcher_pid" && return 0
  fi
  return 1
}

ensure_docker() {
  if docker_responds; then
    log "Docker Engine $docker_version responds"
    return 0
  fi

  if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != "$DEFAULT_DOCKER_SOCKET" ]; then
    fail "DOCKER_HOST=$DOCKER_HOST does not respond ($docker_error); start that engine or unset DOCKER_HOST"
  fi
  if [[ "$docker_error" == *"permission denied"* ]]; then
    fail "the Docker socket is not accessible ($docker_error); add this user to the docker group (usermod -aG docker \$USER) and log in again, or run as root"
  fi

  local pid
  if pid=$(running_dockerd_pid); then
    log "dockerd (pid $pid) is running but does not respond yet; waiting up to ${DOCKER_WAIT_SECONDS}s"
    wait_for_docker "$pid" || fail "dockerd (pid $pid) did not respond within ${DOCKER_WAIT_SECONDS}s ($docker_error)"
    log "Docker Engine $docker_version responds"
    return 0
  fi

  if ! is_root; then
    print_docker_instructions
    exit 1
  fi

  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    can_apt || fail "dockerd is not installed and apt-get is not available; install a Docker Engine first"
    local packages=(docker.io)
    # With AppArmor enabled in the kernel, dockerd loads its default profile with apparmor_parser.
    if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then packages+=(apparmor); fi
    apt_install "${packages[@]}"

    # The package's init script may have started the engine already.
    if pid=$(running_dockerd_pid) && wait_for_docker "$pid"; then
      log "Docker Engine $docker_version responds"
      return 0
    fi
  fi

  if ! start_and_wait_for_dockerd; then
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    fail "dockerd did not respond within ${DOCKER_WAIT_SECONDS}s ($docker_error); see $DOCKERD_LOG"
  fi
  pid=$(running_dockerd_pid || echo "$launcher_pid")
  echo "$pid" >"$STARTED_MARKER"
  log "Docker Engine $docker_version responds (dockerd pid $pid)"
}

ensure_static_busybox() {
  local candidate
  for candidate in /bin/busybox /usr/bin/busybox; do
    if [ -x "$candidate" ] && ! ldd "$candidate" >/dev/null 2>&1; then return 0; fi
  done
  if can_apt; then
    apt_install busybox-static
  else
    fail "no statically linked busybox found; install it as root with: apt-get install busybox-static"
  fi
}

# --- PostgreSQL ------------------------------------------------------------------------------------------

find_initdb() {
  local candidate
  if command -v initdb >/dev/null 2>&1; then
    command -v initdb
    return 0
  fi
  for candidate in /usr/lib/postgresql/*/bin/initdb; do
    if [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_postgres() {
  local initdb
  if initdb=$(find_initdb); then
    log "PostgreSQL server binaries found ($initdb)"
    return 0
  fi
  can_apt || fail "PostgreSQL server binaries (initdb) not found; install them as root with: apt-get install postgresql"
  apt_install postgresql
  initdb=$(find_initdb) || fail "initdb is still missing after installing postgresql"
  log "PostgreSQL server binaries installed ($initdb)"
}

# --- npm packages and build ------------------------------------------------------------------------------

# Identifies the installed dependency tree: the lockfile, the root manifest (allowScripts) and the Node.js
# version that native addons such as better-sqlite3 were compiled for.
npm_stamp() {
  {
    node -p 'process.version + " " + process.versions.modules'
    cat package.json
    if [ -f package-lock.json ]; then cat package-lock.json; fi
  } | sha256sum | cut -d' ' -f1
}

ensure_node_modules() {
  command -v node >/dev/null 2>&1 || fail "node is not installed; install Node.js 20 and npm first"
  command -v npm >/dev/null 2>&1 || fail "npm is not installed; install Node.js 20 and npm first"

  local stamp_file="node_modules/.setup-stamp" stamp
  stamp=$(npm_stamp)
  if [ -d node_modules ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
    log "node_modules is up to date"
  else
    if [ -f package-lock.json ]; then
      log "installing npm packages (npm ci)"
      npm ci --no-audit --no-fund ||
        fail "npm ci failed; if package.json changed, run 'npm install' and commit package-lock.json"
    else
      log "installing npm packages (npm install: no package-lock.json)"
      npm install --no-audit --no-fund
    fi
    echo "$stamp" >"$stamp_file"
  fi

  # better-sqlite3 is a native addon: check that it was built for this Node.js and can open a database.
  if ! (cd packages/host && node -e "require('better-sqlite3')(':memory:').close()") 2>/dev/null; then
    log "better-sqlite3 does not load; rebuilding it"
    npm rebuild better-sqlite3
    (cd packages/host && node -e "require('better-sqlite3')(':memory:').close()") ||
      fail "better-sqlite3 still does not load after npm rebuild (needs python3, make and g++)"
  fi
}

# --- main ------------------------------------------------------------------------------------------------

ensure_commands ip:iproute2 ssh:openssh-client
if [ "$with_docker" = 1 ]; then
  ensure_docker
  ensure_static_busybox
fi
if [ "$with_postgres" = 1 ]; then
  ensure_postgres
fi

ensure_node_modules
log "building (npm run build)"
npm run build --silent

if [ "$with_docker" = 1 ]; then
  log "ensuring the base image"
  bash scripts/build-base-image.sh
  if [ "$with_test_images" = 1 ]; then
    ensure_commands debootstrap:debootstrap
    log "ensuring the Debian test image for VPS tests"
    bash scripts/build-debian-test-image.sh
  fi
fi
log "done"
