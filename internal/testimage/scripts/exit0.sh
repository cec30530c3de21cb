#!/bin/sh
# Prints a line and succeeds.
echo "exit0: hello from task ${RGPU_TASK_ID:-?} attempt ${RGPU_ATTEMPT:-?}"
exit 0
