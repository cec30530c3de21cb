#!/bin/sh
# Prints to both streams, then fails with exit status 1.
echo "exit1: about to fail"
echo "exit1: failing on purpose" >&2
exit 1
