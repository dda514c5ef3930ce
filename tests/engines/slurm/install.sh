#!/usr/bin/env bash
# Install what tests/engines/slurm_cluster.py needs: Debian's Slurm 22.05 daemons and client
# commands (slurm-wlm's slurmctld, slurmd, slurm-client; munge comes as their dependency), plus
# unshare/nsenter (util-linux) and ip (iproute2). Idempotent: returns at once when all is there.
#
# The machine's own Slurm and munge services are never started: a policy-rc.d that refuses
# service starts is put in place for the install when none exists, and removed afterwards.
# The test cluster uses its own config under the test's directory (never /etc/slurm).
set -euo pipefail

need=()
command -v slurmctld >/dev/null 2>&1 || [[ -x /usr/sbin/slurmctld ]] || need+=(slurmctld)
command -v slurmd >/dev/null 2>&1 || [[ -x /usr/sbin/slurmd ]] || need+=(slurmd)
command -v sbatch >/dev/null 2>&1 || need+=(slurm-client)
command -v unshare >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || [[ -x /usr/sbin/ip ]] || need+=(iproute2)
if ((${#need[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) != 0 ]]; then
  echo "slurm/install.sh: need root to install ${need[*]}" >&2
  exit 1
fi

echo "slurm/install.sh: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=1
fi
trap '((made_policy)) && rm -f "$policy"' EXIT

timeout 300 apt-get update -qq
timeout 600 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
