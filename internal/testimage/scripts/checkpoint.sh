#!/bin/sh
# A training stand-in that resumes from its checkpoint. It counts steps 1 to
# STEPS (10), writing the last finished step to $RGPU_CHECKPOINT_DIR/step
# after each; on start it resumes from the saved step ("resumed from step
# K"). With CRASH_AT=N it exits 3 after step N once: the marker file
# $RGPU_CHECKPOINT_DIR/crashed makes the next attempt go past it. STEP_SECONDS
# (0) paces the steps. At the end it writes $RGPU_OUTPUT_DIR/result.txt.
set -e
dir=${RGPU_CHECKPOINT_DIR:-/rgpu/checkpoints}
out=${RGPU_OUTPUT_DIR:-/rgpu/output}
steps=${STEPS:-10}
crash=${CRASH_AT:-0}
step=0
if [ -s "$dir/step" ]; then
	step=$(cat "$dir/step")
	echo "resumed from step $step"
fi
while [ "$step" -lt "$steps" ]; do
	step=$((step + 1))
	echo "step $step of $steps"
	echo "$step" >"$dir/step.tmp"
	mv "$dir/step.tmp" "$dir/step"
	if [ "$step" -eq "$crash" ] && [ ! -e "$dir/crashed" ]; then
		touch "$dir/crashed"
		echo "crashing after step $step" >&2
		exit 3
	fi
	if [ "${STEP_SECONDS:-0}" != 0 ]; then sleep "$STEP_SECONDS"; fi
done
echo "done: $steps steps"
echo "$steps steps" >"$out/result.txt"
