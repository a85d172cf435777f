#!/usr/bin/env bash
# Builds every recipe of tests/recipes/ in every mode its `# modes:` line lists (root, a user
# with a subuid range, a user without) and checks each; `.ci/run` builds only the `# ci:`
# modes. Needs what scripts/test.sh needs (run scripts/deps.sh first, as root).
# Usage: scripts/recipes.sh [FILTER]     e.g. scripts/recipes.sh lolcow
set -euo pipefail
cd "$(dirname "$0")/.."
export CI=${CI:-true} SINGLET_RECIPES=all
export SINGLET_TESTDATA=${SINGLET_TESTDATA:-$PWD/../shared/testdata/sif}
cargo build --quiet
chmod -R a+rX "${CARGO_TARGET_DIR:-target}/debug" 2>/dev/null || true
exec cargo test --quiet --test it -- "recipes::${1:-}" --test-threads 2 --nocapture
