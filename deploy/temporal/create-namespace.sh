#!/bin/sh
# Registers the namespace RemoteGPU uses unless it exists.
set -eu
ns=${TEMPORAL_NAMESPACE:-default}
until temporal operator cluster health --address "$TEMPORAL_ADDRESS"; do sleep 2; done
temporal operator namespace describe -n "$ns" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 ||
	temporal operator namespace create -n "$ns" --retention 30d --address "$TEMPORAL_ADDRESS"
