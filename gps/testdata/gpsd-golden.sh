#!/bin/sh
# Regenerates gps/testdata/*.gpsd.json: the TPV reports of gpsd (the
# reference peer) for each clean log, to compare our fixes with.
#
# Needs: apt-get install -y gpsd gpsd-clients socat perl (gpsd 3.22 on
# Debian 12 made the committed files). Tests do not need gpsd.
#
# Usage: sh gps/testdata/gpsd-golden.sh [log.nmea ...]   (from the repository root)
set -eu
cd "$(dirname "$0")"
logs=${*:-"ublox-m8-drive.nmea quectel-l76-bd.nmea quectel-lc29h-gns.nmea sirf-gp.nmea coldstart.nmea midnight.nmea"}
port=${GPSD_PORT:-29471}
tmp=$(mktemp -d)
trap 'kill $pids 2>/dev/null || true; rm -rf "$tmp"' EXIT

for log in $logs; do
	pids=
	socat pty,raw,echo=0,link="$tmp/gps0" pty,raw,echo=0,link="$tmp/gps1" &
	pids="$pids $!"
	while [ ! -e "$tmp/gps1" ]; do sleep 0.1; done
	# -b: read-only, gpsd must not probe or reconfigure the "receiver";
	# -n: open the device without waiting for a client.
	gpsd -N -n -b -S "$port" "$tmp/gps0" 2>"$tmp/gpsd.err" &
	pids="$pids $!"
	sleep 1
	gpspipe -w "localhost:$port" >"$tmp/out.json" &
	pids="$pids $!"
	sleep 1
	# Pace the log (2 ms a line) so gpsd reads it sentence by sentence as
	# from a serial line rather than in one large buffer.
	perl -e '$|=1; while (<STDIN>) { print; select(undef,undef,undef,0.002) }' <"$log" >"$tmp/gps1"
	sleep 1.5
	kill $pids
	wait 2>/dev/null || true
	# Keep what we compare, in gpsd's own words and order, so the golden
	# files stay small and free of this run's paths.
	grep '"class":"TPV"' "$tmp/out.json" |
		perl -ne 'my @k; for my $f (qw(mode time lat lon altMSL speed track)) { push @k, "\"$f\":$1" if /"$f":("[^"]*"|[-0-9.]+)/ } print "{", join(",", @k), "}\n"' \
		>"${log%.nmea}.gpsd.json"
	echo "${log%.nmea}.gpsd.json: $(wc -l <"${log%.nmea}.gpsd.json") TPV"
done
