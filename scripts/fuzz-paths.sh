#!/usr/bin/env sh
# The long run of the path fuzzing in crates/engine/tests/hostile_paths.rs: its property tests
# (normalisation against a model, routing never reaching outside public/, disk paths staying in
# the build directory, random hostile requests to a real server) with many more cases than the
# 256 per property `npm test` runs.
#
#   scripts/fuzz-paths.sh             100 000 cases per property
#   scripts/fuzz-paths.sh 1000000     as many as you like
#
# A failure prints the smallest failing input; proptest keeps its seed in a proptest-regressions
# file beside the tests (commit it: it is replayed first on every later run).
set -eu
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${1:-100000}"
echo "fuzz-paths: ${PROPTEST_CASES} cases per property"
exec cargo test -p gatsby-dsg-engine --test hostile_paths -- \
  normalize_ disk_paths_ routing_never_ directory_redirects_from_any_path random_hostile_requests
