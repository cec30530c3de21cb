#!/bin/sh
# An inference stand-in: busybox httpd on PORT (else RGPU_SERVICE_PORT, else
# 8080) serving a page that names the task.
port=${PORT:-${RGPU_SERVICE_PORT:-8080}}
mkdir -p /tmp/www
echo "RemoteGPU test service: task ${RGPU_TASK_ID:-?} attempt ${RGPU_ATTEMPT:-?}" >/tmp/www/index.html
echo "serving on port $port"
exec httpd -f -v -p "$port" -h /tmp/www
