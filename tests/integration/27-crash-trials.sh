# The short form of the crash trials (tests/crash/crash-trials.sh; `make
# crash-trials` runs the long one): each store operation killed with
# SIGKILL at random points, then fsck, recovery, the re-run and gc checked.
. "${0%/*}/../lib.sh"
require_root "runs containers and mounts overlays"
sh "$TOP/tests/crash/crash-trials.sh" "${STRATA_CRASH_TRIALS:-30}" || fail "a crash trial failed"
