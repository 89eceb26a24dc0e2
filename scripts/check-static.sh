#!/usr/bin/env bash
# Check that the release build is linked as scripts/static-binaries.sh makes it: the CLI a
# position-independent executable with no program interpreter (static PIE, so ASLR stays),
# the exec stage with no program interpreter. Exit 1, naming the binary, otherwise.
# Usage: scripts/check-static.sh RELEASE_DIR
set -euo pipefail
dir=${1:?usage: check-static.sh RELEASE_DIR}
status=0
for bin in syscontainer syscontainer-exec-stage; do
    headers=$(readelf -lh "$dir/$bin")
    if grep -q 'INTERP' <<<"$headers"; then
        echo "check-static: $dir/$bin needs a dynamic loader; run scripts/static-binaries.sh" >&2
        status=1
    fi
done
if ! readelf -h "$dir/syscontainer" | grep -q 'DYN (Position-Independent Executable file)'; then
    echo "check-static: $dir/syscontainer is not position-independent" >&2
    status=1
fi
exit $status
