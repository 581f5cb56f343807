#!/usr/bin/env bash
# The main job, end to end on one machine. It sets the project up (Docker Engine, npm packages, build, the
# base image) and starts an all-in-one local cluster in the background: `kohakuriver up`, a host and one
# runner bound to 127.0.0.1 with data in ~/.kohakuriver. Then it runs a first command task in a container
# and prints its output. The cluster keeps running afterwards; stop it with `npx kohakuriver down`.
#
# Usage: scripts/quickstart.sh [--no-setup]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--no-setup" ]; then
  bash scripts/setup.sh
fi

kohakuriver() { node packages/cli/bin/kohakuriver.js "$@"; }
# The default environment starts from the locally built base image, so the main job needs no registry.
# Set KOHAKURIVER_INITIAL_BASE_IMAGE (python:3.12-alpine in the host's defaults) to start from another one.
export KOHAKURIVER_INITIAL_BASE_IMAGE="${KOHAKURIVER_INITIAL_BASE_IMAGE:-kohakuriver/kohakuriver-base:base}"
data_dir="${KOHAKURIVER_HOME:-$HOME/.kohakuriver}"
log_file="$data_dir/up.log"
mkdir -p "$data_dir"

if kohakuriver node list >/dev/null 2>&1; then
  echo "quickstart: a host already answers on ${KOHAKURIVER_HOST:-localhost}:${KOHAKURIVER_PORT:-8000}; using it"
else
  echo "quickstart: starting a local cluster (kohakuriver up); its log is $log_file"
  nohup node packages/cli/bin/kohakuriver.js up >"$log_file" 2>&1 &
  up_pid=$!
  for _ in $(seq 1 60); do
    if kohakuriver node list --json 2>/dev/null | grep -q '"status": *"online"'; then break; fi
    if ! kill -0 "$up_pid" 2>/dev/null; then
      echo "quickstart: kohakuriver up exited; the end of its log:" >&2
      tail -n 20 "$log_file" >&2
      exit 1
    fi
    sleep 1
  done
  if ! kohakuriver node list --json 2>/dev/null | grep -q '"status": *"online"'; then
    echo "quickstart: no node came online within 60 s; see $log_file" >&2
    exit 1
  fi
fi

echo "quickstart: submitting a first task"
echo "+ kohakuriver task submit --wait -- sh -c 'echo \"Hello from \$(hostname), task \$KOHAKURIVER_TASK_ID\"; uname -srm'"
set +e
result=$(kohakuriver task submit --wait --json -- sh -c 'echo "Hello from $(hostname), task $KOHAKURIVER_TASK_ID"; uname -srm')
status=$?
set -e
task_id=$(printf '%s' "$result" | grep -o '"task_id": *"[0-9]*"' | head -n 1 | grep -o '[0-9]\{6,\}')
if [ -z "$task_id" ]; then
  echo "quickstart: the task was not submitted: $result" >&2
  exit 1
fi

echo "quickstart: task $task_id finished with exit code $status; its output:"
kohakuriver task logs "$task_id"
echo
echo "The cluster is still running. Next steps:"
echo "  npx kohakuriver task submit -c 1 -m 256M --wait -- sh -c 'echo out; echo err >&2; exit 3'"
echo "  npx kohakuriver task list"
echo "  npx kohakuriver node list"
echo "  npx kohakuriver down                                          (stops the cluster)"
exit "$status"
