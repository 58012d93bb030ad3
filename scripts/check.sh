#!/usr/bin/env bash
# The checks CI runs before the tests: set up .venv, lint, format, type check, build the docs, and
# install the built wheel into a fresh venv to run the CLI from outside the checkout (so a file
# missing from the package cannot hide behind the editable install). Every step runs, each is
# timed, and the script exits non-zero if any failed.
#
#   scripts/check.sh              all steps
#   scripts/check.sh lint mypy    only these (setup lint format mypy docs wheel)
set -euo pipefail
cd "$(dirname "$0")/.."

# The files mypy checks ([tool.mypy] in pyproject.toml holds its settings): the core (config,
# checks, engines, loops, returns, rollout, policies) and the seams around it.
MYPY_FILES=(
  src/reinforcelab/config.py
  src/reinforcelab/checks.py
  src/reinforcelab/engines
  src/reinforcelab/loops.py
  src/reinforcelab/returns.py
  src/reinforcelab/rollout.py
  src/reinforcelab/policies
  src/reinforcelab/agent.py
  src/reinforcelab/callbacks.py
  src/reinforcelab/playback.py
  src/reinforcelab/run.py
  src/reinforcelab/seeding.py
  src/reinforcelab/envs/make.py
)

ALL_STEPS=(setup lint format mypy docs wheel)
BIN=.venv/bin

now() { echo "${EPOCHREALTIME/./}"; }  # microseconds

seconds_since() {  # START (from now): the seconds since, to a tenth
  local tenths=$((($(now) - $1) / 100000))
  printf '%d.%d' $((tenths / 10)) $((tenths % 10))
}

step_setup() {
  scripts/setup.sh
}

step_lint() {
  "$BIN/ruff" check --output-format concise .
}

step_format() {
  "$BIN/ruff" format --check .
}

step_mypy() {
  "$BIN/mypy" "${MYPY_FILES[@]}"
}

step_docs() {
  if [ ! -f mkdocs.yml ]; then
    echo "no mkdocs.yml: nothing to build"
    return
  fi
  local site
  site=$(mktemp -d)
  trap "rm -rf '$site'" EXIT  # each step runs in a subshell of its own
  "$BIN/mkdocs" build --strict --quiet --site-dir "$site"
}

# Build the sdist and, from it, the wheel; install the wheel with its dependencies into a fresh
# venv; then use it from an empty folder with the checkout off the path.
step_wheel() {
  local tmp start
  tmp=$(mktemp -d)
  trap "rm -rf '$tmp'" EXIT  # when a command fails
  start=$(now)
  "$BIN/python" -m build --quiet --outdir "$tmp/dist" . >/dev/null
  echo "built $(cd "$tmp/dist" && echo *) in $(seconds_since "$start") s"
  start=$(now)
  "${PYTHON:-python3}" -m venv "$tmp/venv"
  # --no-compile: byte-compiling all of torch would double the install time (and the clean-up's)
  "$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile \
    -c constraints.txt "$tmp"/dist/*.whl
  echo "installed the wheel into a fresh venv in $(seconds_since "$start") s"
  start=$(now)
  mkdir "$tmp/elsewhere"
  (
    cd "$tmp/elsewhere"
    unset PYTHONPATH
    local bin="$tmp/venv/bin"
    "$bin/python" -c 'import reinforcelab, sys
assert reinforcelab.__file__.startswith(sys.prefix), f"imported from {reinforcelab.__file__}"'
    "$bin/reinforcelab" --help >/dev/null
    "$bin/reinforcelab" presets >/dev/null
    "$bin/reinforcelab" train CartPole-v1 --preset fast-cartpole --total-steps 2000 --seed 0 \
      --out "$tmp/run" --no-progress
    "$bin/reinforcelab" evaluate "$tmp/run" --episodes 2
    "$bin/python" -c "import gymnasium, reinforcelab; gymnasium.make('Pixelcopter-PLE-v0')"
  )
  echo "ran the CLI from an empty folder outside the checkout in $(seconds_since "$start") s"
  start=$(now)
  rm -rf "$tmp"  # ~25,000 files, most of them torch's: this takes a while on a busy disk
  echo "removed the fresh venv in $(seconds_since "$start") s"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=("${ALL_STEPS[@]}")
for name in "${steps[@]}"; do
  if ! declare -F "step_$name" >/dev/null; then
    echo "error: unknown step '$name'; the steps are: ${ALL_STEPS[*]}" >&2
    exit 2
  fi
done

summary=()
failed=0
for name in "${steps[@]}"; do
  echo "== $name"
  start=$(now)
  set +e
  (set -e; "step_$name")  # a subshell, so that a failing step stops itself and not the others
  status=$?
  set -e
  seconds=$(seconds_since "$start")
  if [ $status -eq 0 ]; then result=ok; else result="FAILED (exit $status)"; failed=1; fi
  summary+=("$(printf '%-7s %7s s  %s' "$name" "$seconds" "$result")")
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $failed
