#!/usr/bin/env bash
# Checks that a task container gets exactly its granted GPU, on a machine
# with an NVIDIA GPU, Docker and the NVIDIA container toolkit, where only
# this repository and a prebuilt bin/remotegpu-agent are present (no Go, no
# network). Build the binary beforehand, on the development machine:
#   CGO_ENABLED=1 go build -o bin/remotegpu-agent ./cmd/remotegpu-agent
# The container is started by the agent's own task path (remotegpu-agent
# --check-task: hostops.TaskStart with a Docker device request for the GPU
# indices in GPUS, default 0) and runs `nvidia-smi -L`; what it printed is
# saved to $OUT/task-gpu-check.txt when OUT is set. Uses the Docker daemon
# of DOCKER_HOST or the local socket; when none answers and dockerd is
# installed, starts a private one (root) for the check. IMAGE names an
# image to run; without it one is made from the host's /bin/sh and the
# libraries nvidia-smi needs (the toolkit mounts nvidia-smi and the driver).
# Exits non-zero when the container does not see exactly its GPUs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

agent=bin/remotegpu-agent
gpus=${GPUS:-0}
if [[ ! -x $agent ]]; then
	echo "$agent is missing: build it with CGO_ENABLED=1 go build -o $agent ./cmd/remotegpu-agent" >&2
	exit 2
fi

echo "== nvidia-smi -L (host)"
host_list=$(nvidia-smi -L 2>&1 || true)
echo "$host_list"

echo "== NVIDIA container toolkit"
for tool in nvidia-container-runtime-hook nvidia-container-runtime nvidia-ctk nvidia-container-cli; do
	printf '%-32s %s\n' "$tool" "$(command -v "$tool" || echo missing)"
done

work=$(mktemp -d)
daemon_pid=
cleanup() {
	if [[ -n $daemon_pid ]]; then
		kill "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
		umount -l "$work/exec/netns/default" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "== Docker"
if ! docker info >/dev/null 2>&1; then
	if ! command -v dockerd >/dev/null || [[ $(id -u) -ne 0 ]]; then
		echo "FAIL: no Docker daemon answers and none can be started here (dockerd missing or not root)" >&2
		exit 2
	fi
	echo "no daemon answers: starting a private dockerd (log in $work/dockerd.log)"
	dockerd --data-root "$work/root" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
		-H "unix://$work/docker.sock" --bridge=none --iptables=false --ip-masq=false >"$work/dockerd.log" 2>&1 &
	daemon_pid=$!
	export DOCKER_HOST=unix://$work/docker.sock
	for _ in $(seq 100); do
		docker info >/dev/null 2>&1 && break
		sleep 0.2
	done
	docker info >/dev/null 2>&1 || { tail -20 "$work/dockerd.log" >&2; echo "FAIL: dockerd did not start" >&2; exit 2; }
fi
docker version --format 'server {{.Server.Version}} (API {{.Server.APIVersion}})' || true
docker info --format 'runtimes: {{range $k, $v := .Runtimes}}{{$k}} {{end}}(default {{.DefaultRuntime}})' || true

image=${IMAGE:-}
if [[ -z $image ]]; then
	image=remotegpu/gpucheck:latest
	echo "== making $image from the host's /bin/sh and the libraries of nvidia-smi"
	rootfs=$work/rootfs
	mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/usr/bin"
	cp -L /bin/sh "$rootfs/bin/sh"
	libs=$( (ldd /bin/sh; ldd "$(command -v nvidia-smi || echo /bin/sh)") 2>/dev/null | grep -o '/[^ ]*' | sort -u)
	for lib in $libs; do
		mkdir -p "$rootfs$(dirname "$lib")"
		cp -L "$lib" "$rootfs$lib"
	done
	tar -C "$rootfs" -c . | docker import -c 'ENV PATH=/usr/bin:/bin' - "$image" >/dev/null
fi

echo "== remotegpu-agent --check-task $image --check-gpus $gpus"
out=$work/task-gpu-check.txt
status=0
"$agent" --check-task "$image" --gpu-source=nvml --check-gpus "$gpus" \
	--check-command 'nvidia-smi -L; echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES NVIDIA_VISIBLE_DEVICES=$NVIDIA_VISIBLE_DEVICES"' \
	>"$out" 2>&1 || status=$?
cat "$out"
if [[ -n ${OUT:-} ]]; then
	cp "$out" "$OUT/task-gpu-check.txt"
fi

want=$(tr ',' '\n' <<<"$gpus" | grep -c .)
seen=$(grep -c '^GPU [0-9]*:' "$out" || true)
if ((status != 0)) || ! grep -q '"gpuDevices": true' "$out" || ((seen != want)); then
	echo "FAIL: exit $status; the container listed $seen GPU(s), want $want with a device request" >&2
	exit 1
fi
# The container numbers its GPUs from 0; the UUIDs say which host GPUs they are.
for idx in $(tr ',' ' ' <<<"$gpus"); do
	uuid=$(grep "^GPU $idx:" <<<"$host_list" | grep -o 'GPU-[0-9a-f-]*' || true)
	if [[ -n $uuid ]] && ! grep -q "$uuid" "$out"; then
		echo "FAIL: host GPU $idx ($uuid) is not the one the container sees" >&2
		exit 1
	fi
done
echo "OK: the task container sees exactly GPU(s) $gpus"
