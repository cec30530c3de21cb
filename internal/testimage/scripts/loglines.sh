#!/bin/sh
# Prints LOG_LINES (1000) lines "line <n>", as fast as it can or LOG_RATE
# lines a second; with LOG_STDERR=1 the even ones go to stderr.
n=${LOG_LINES:-1000}
rate=${LOG_RATE:-0}
err=${LOG_STDERR:-0}
lines() {
	awk -v a="$1" -v b="$2" -v err="$err" 'BEGIN {
		for (i = a; i <= b; i++) {
			if (err == 1 && i % 2 == 0) print "line " i > "/dev/stderr"; else print "line " i
		}
	}'
}
if [ "$rate" -le 0 ]; then
	lines 1 "$n"
	exit 0
fi
i=1
while [ "$i" -le "$n" ]; do
	j=$((i + rate - 1))
	[ "$j" -le "$n" ] || j=$n
	lines "$i" "$j"
	i=$((j + 1))
	[ "$i" -gt "$n" ] || sleep 1
done
