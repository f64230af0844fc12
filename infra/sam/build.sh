#!/usr/bin/env bash
# `make build`: `sam build` without a container, with the Lambda runtime's Python (python3.12, as
# template.yaml's Globals say) taken from this machine, then every module compiled to bytecode: Lambda
# cannot write __pycache__ into /opt or /var/task, so a layer shipped without it compiles on every cold start.
set -euo pipefail
cd "$(dirname "$0")/../.."

SAM=${SAM:-.venv-sam/bin/sam}
WANT=3.12  # the Runtime in template.yaml
BUILD=.aws-sam/build

runtime_python() {
  # A python3.12 that runs: on PATH, else the newest 3.12.x that pyenv has (pyenv's shim on PATH only runs
  # when 3.12 is the selected version, so its real bin directory is used).
  if python$WANT -c 'pass' >/dev/null 2>&1; then
    command -v python$WANT
    return 0
  fi
  if command -v pyenv >/dev/null 2>&1; then
    local dir
    for dir in $(find "$(pyenv root)/versions" -maxdepth 1 -name "$WANT.*" 2>/dev/null | sort -V -r); do
      if "$dir/bin/python$WANT" -c 'pass' >/dev/null 2>&1; then
        echo "$dir/bin/python$WANT"
        return 0
      fi
    done
  fi
  return 1
}

if ! PY=$(runtime_python); then
  echo "make build: no Python $WANT found (needed by sam build for the python$WANT runtime)." >&2
  echo "  Install it, e.g. 'pyenv install $WANT' or 'apt-get install python$WANT', or put it on PATH." >&2
  exit 1
fi
echo "== sam build with $("$PY" --version) ($PY)"
PATH="$(dirname "$PY"):$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} \
  "$SAM" build --template template.yaml

echo "== compiling bytecode (unchecked-hash: the files in a deployed package never change)"
"$PY" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$BUILD" >/dev/null

echo "== what each artifact carries (unzipped)"
du -sh "$BUILD"/*/ | sed "s#$BUILD/##"
