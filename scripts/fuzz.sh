#!/usr/bin/env bash
# Runs every Go fuzz target in the repository (every `func FuzzX` in a
# _test.go file, found anew each run so a new target cannot be forgotten)
# for FUZZTIME each, one after another. A crasher fails the run and is
# written to the package's testdata/fuzz/FuzzX/ by go test: commit it as a
# regression seed. `make test` runs this with FUZZTIME=10s.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}

mapfile -t files < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi
for f in "${files[@]}"; do
  dir=$(dirname "$f")
  mapfile -t names < <(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$f")
  for name in "${names[@]}"; do
    echo "== fuzz $dir $name for $FUZZTIME"
    log=$(mktemp)
    if ! (cd "$dir" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" .) 2>&1 | tee "$log"; then
      # A finding names the input it wrote ("failing input written to");
      # "context deadline exceeded" alone is the fuzzing engine's own
      # coordinator timing out on a loaded machine, not a finding: run the
      # target once more, and fail if it fails again.
      if grep -q 'failing input written to' "$log" || ! grep -q 'context deadline exceeded' "$log"; then
        rm -f "$log"
        exit 1
      fi
      echo "== fuzz $dir $name: the engine timed out without a finding; once more"
      (cd "$dir" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" .)
    fi
    rm -f "$log"
  done
done
