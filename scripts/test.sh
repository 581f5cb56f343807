#!/usr/bin/env bash
# Runs the whole check: setup (Docker Engine, PostgreSQL binaries, npm packages, build, base image and the
# Debian test image), then `npm run lint` (tsc -b, ESLint, Prettier), then every *.test.ts file under
# packages/*/src and test/ with node:test. Files whose path contains neither "docker" nor "e2e" run first,
# several at a time. The rest share the Docker Engine, so they run one file at a time.
#
# Usage: scripts/test.sh [--no-setup] [--no-lint] [FILTER...]
#   --no-setup  skip scripts/setup.sh (the packages must be installed already)
#   --no-lint   skip `npm run lint`
#   FILTER      run only the test files whose path contains one of these substrings
#
# Environment: KOHAKURIVER_TEST_TIMEOUT_MS sets the timeout in milliseconds of each test, and on Node.js 20
# also of each test file as a whole, so a file that leaves a handle open fails instead of hanging (default
# 900000, 15 minutes). With CI=true, a Docker Engine that setup started for this run is stopped at the end.
set -euo pipefail

run_setup=1
run_lint=1
filters=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-setup) run_setup=0 ;;
    --no-lint) run_lint=0 ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    -*)
      echo "test: unknown option '$1' (see --help)" >&2
      exit 2
      ;;
    *) filters+=("$1") ;;
  esac
  shift
done

cd "$(dirname "$0")/.."

STARTED_MARKER="/run/kohakuriver-setup-dockerd.pid"
test_timeout_ms="${KOHAKURIVER_TEST_TIMEOUT_MS:-900000}"
# Hosts started by tests must not create the default environment in the shared engine or pull its base
# image from a registry. Tests that exercise it set these keys in their own config files.
export KOHAKURIVER_DEFAULT_CONTAINER_BOOTSTRAP="${KOHAKURIVER_DEFAULT_CONTAINER_BOOTSTRAP:-false}"
export KOHAKURIVER_INITIAL_BASE_IMAGE="${KOHAKURIVER_INITIAL_BASE_IMAGE:-127.0.0.1:1/kohakuriver-test/unreachable:latest}"
work_dir=$(mktemp -d)

# Stops the engine that setup started for this CI run, so that the run leaves no daemon behind.
stop_started_dockerd() {
  local pid waited=0
  [ -f "$STARTED_MARKER" ] || return 0
  pid=$(cat "$STARTED_MARKER")
  rm -f "$STARTED_MARKER"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0

  echo "test: stopping the dockerd (pid $pid) that setup started"
  kill -TERM "$pid" 2>/dev/null || return 0
  while [ -d "/proc/$pid" ] && [ "$waited" -lt 30 ]; do
    sleep 1
    waited=$((waited + 1))
  done
  if [ -d "/proc/$pid" ]; then
    echo "test: dockerd (pid $pid) did not stop within 30s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

cleanup() {
  rm -rf "$work_dir"
  if [ "${CI:-}" = true ] && [ "$run_setup" = 1 ]; then stop_started_dockerd; fi
}
trap cleanup EXIT

if [ "$run_setup" = 1 ]; then
  # A marker left by an earlier run names an engine that this run did not start.
  rm -f "$STARTED_MARKER" 2>/dev/null || true
  bash scripts/setup.sh --with-postgres --with-test-images
elif [ ! -d node_modules ]; then
  echo "test: node_modules is missing; run scripts/setup.sh or drop --no-setup" >&2
  exit 1
fi

lint_failed=0
if [ "$run_lint" = 1 ]; then
  echo "test: linting (npm run lint)"
  npm run lint --silent || lint_failed=1
fi

# --- collect test files ----------------------------------------------------------------------------------

all_files=()
while IFS= read -r file; do all_files+=("$file"); done < <(
  find packages/*/src test -type f -name '*.test.ts' -not -path '*/node_modules/*' -not -path '*/dist/*' \
    2>/dev/null | sort
)

selected=()
for file in "${all_files[@]}"; do
  if [ ${#filters[@]} -eq 0 ]; then
    selected+=("$file")
    continue
  fi
  for filter in "${filters[@]}"; do
    if [[ "$file" == *"$filter"* ]]; then
      selected+=("$file")
      break
    fi
  done
done

if [ ${#selected[@]} -eq 0 ]; then
  if [ ${#filters[@]} -gt 0 ]; then
    echo "test: no test file matches ${filters[*]} (of ${#all_files[@]} files)" >&2
  else
    echo "test: no *.test.ts files found under packages/*/src or test/" >&2
  fi
  exit 1
fi

parallel_files=()
serial_files=()
for file in "${selected[@]}"; do
  case "$file" in
    *docker* | *e2e*) serial_files+=("$file") ;;
    *) parallel_files+=("$file") ;;
  esac
done

# --- run -------------------------------------------------------------------------------------------------

passed=0
failed=0
skipped=0
runs_failed=0
run_count=0

# Runs node:test on the given files with the given concurrency. The spec reporter prints to the terminal and
# a TAP copy feeds the counts of the closing summary.
run_node_tests() {
  local concurrency="$1" tap_file
  shift
  run_count=$((run_count + 1))
  tap_file="$work_dir/run-$run_count.tap"
  echo "test: running ${#} file(s) with concurrency $concurrency"

  local status=0
  node --conditions=source --import tsx --test \
    --test-concurrency="$concurrency" --test-timeout="$test_timeout_ms" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap_file" \
    "$@" || status=$?

  local pass fail cancelled skip todo
  pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap_file" | tail -n 1)
  fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap_file" | tail -n 1)
  cancelled=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$tap_file" | tail -n 1)
  skip=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$tap_file" | tail -n 1)
  todo=$(sed -n 's/^# todo \([0-9]*\)$/\1/p' "$tap_file" | tail -n 1)
  passed=$((passed + ${pass:-0}))
  failed=$((failed + ${fail:-0} + ${cancelled:-0}))
  skipped=$((skipped + ${skip:-0} + ${todo:-0}))
  if [ "$status" -ne 0 ]; then runs_failed=$((runs_failed + 1)); fi
}

if [ ${#parallel_files[@]} -gt 0 ]; then
  cores=$(nproc 2>/dev/null || echo 2)
  run_node_tests "$((cores > 2 ? cores : 2))" "${parallel_files[@]}"
fi
if [ ${#serial_files[@]} -gt 0 ]; then
  run_node_tests 1 "${serial_files[@]}"
fi

# --- summary ---------------------------------------------------------------------------------------------

if [ "$lint_failed" = 1 ]; then echo "test: lint failed (see the output of npm run lint above)"; fi
if [ "$runs_failed" -gt 0 ] && [ "$failed" -eq 0 ]; then
  echo "test: node --test exited with an error although no test failed (a file may not have loaded)"
fi
echo "test: $passed passed, $failed failed, $skipped skipped"

if [ "$lint_failed" = 1 ] || [ "$runs_failed" -gt 0 ] || [ "$failed" -gt 0 ]; then exit 1; fi
