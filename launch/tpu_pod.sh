#!/usr/bin/env bash
# Runs leedjax on every host of a Cloud TPU VM slice.
#   launch/tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [--config.field=value ...]
# WORKDIR and the dataset directory must be shared by all hosts (e.g. an NFS
# or Filestore mount). The repository is expected at ~/leedjax on each host.
set -euo pipefail
if [ "$#" -lt 4 ]; then
  echo "usage: $0 TPU_NAME ZONE CONFIG WORKDIR [overrides...]" >&2
  exit 2
fi
tpu=$1 zone=$2 config=$3 workdir=$4
shift 4
# Quoted for the hosts' shell: paths with spaces and overrides such as
# "--config.stages=('data', 'classifier')" arrive as one word each.
arguments=$(printf ' %q' "--config=$config" "--workdir=$workdir" "$@")
gcloud compute tpus tpu-vm ssh "$tpu" --zone="$zone" --worker=all --command="
  set -e
  cd ~/leedjax
  python3 -m pip install -q -e . 'jax[tpu]'
  python3 -m leedjax.main --multihost$arguments
"
