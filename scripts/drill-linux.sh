#!/bin/sh
# Runs `tuntcp drill` over Linux's own packetdrill scripts and prints a table:
# one line per script (PASS/FAIL/SKIP with the reason), then the totals.
# It fetches nothing: give it the gtests/net/tcp directory of a packetdrill
# checkout (google/packetdrill; GPL-2.0 files, keep them out of this repository).
#
#   scripts/drill-linux.sh /work/pd/gtests/net/tcp [folder...]
#
# Without folders it runs the ones issue 12 measures.
set -eu
dir=${1:?usage: drill-linux.sh GTESTS_NET_TCP_DIR [folder...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
folders=${*:-close shutdown mss nagle sack fast_retransmit ts_recent validate blocking user_timeout limited_transmit fast_recovery slow_start cubic ecn mtu_probe tcp_info}
cd "$dir"
files=
for f in $folders; do files="$files $(ls "$f"/*.pkt)"; done
# shellcheck disable=SC2086
node "$root/dist/src/cli/main.js" drill $files || true
