#!/usr/bin/env bash
# Checks remotegpu-agent against NVML on a machine with an NVIDIA GPU, where
# only this repository and a prebuilt bin/remotegpu-agent are present (no Go,
# no network). Build the binary beforehand, on the development machine:
#   CGO_ENABLED=1 go build -o bin/remotegpu-agent ./cmd/remotegpu-agent
# Prints `nvidia-smi -L`, then the inventory and one sample the agent reads
# through NVML (JSON, also saved to $OUT/nvml-once.json when OUT is set), and
# exits non-zero when the agent fails or reports no NVML GPU.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

agent=bin/remotegpu-agent
if [[ ! -x $agent ]]; then
	echo "$agent is missing: build it with CGO_ENABLED=1 go build -o $agent ./cmd/remotegpu-agent" >&2
	exit 2
fi

echo "== nvidia-smi -L"
if command -v nvidia-smi >/dev/null; then
	nvidia-smi -L || echo "(nvidia-smi failed)"
else
	echo "(nvidia-smi is not installed)"
fi

echo "== ldd $agent"
ldd "$agent" || true

echo "== $agent --once --gpu-source=nvml"
json=$(mktemp)
trap 'rm -f "$json"' EXIT
if ! "$agent" --once --gpu-source=nvml --log-level=debug >"$json"; then
	echo "FAIL: remotegpu-agent --once --gpu-source=nvml failed (see above)" >&2
	exit 1
fi
cat "$json"
if [[ -n ${OUT:-} ]]; then
	cp "$json" "$OUT/nvml-once.json"
fi

grep -q '"gpuSource": "nvml"' "$json" || { echo "FAIL: the inventory is not from NVML" >&2; exit 1; }
gpus=$(grep -c '"model"' "$json" || true)
samples=$(grep -c '"powerLimitW"' "$json" || true)
if ((gpus == 0 || samples != gpus)); then
	echo "FAIL: $gpus GPUs in the inventory, $samples in the sample" >&2
	exit 1
fi
echo "OK: NVML reports $gpus GPU(s)"
