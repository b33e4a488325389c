#!/usr/bin/env bash
# A throw-away single-node Slurm cluster (slurmctld + slurmd + its own munged) for tests, with
# every file (keys, sockets, config, state, logs, pids) inside one directory, so it never touches
# or clashes with a system-wide Slurm/munge setup and several can exist side by side.
#   scripts/slurm-test-cluster.sh install          # apt-get the Debian packages if missing
#   eval "$(scripts/slurm-test-cluster.sh start /tmp/slurm-x)"   # prints: export SLURM_CONF=...
#   sbatch ...; squeue ...; scancel ...
#   scripts/slurm-test-cluster.sh stop /tmp/slurm-x
# Only the `export SLURM_CONF=...` line of `start` goes to stdout; all else to stderr.
# Knobs: SLURM_TEST_KILLWAIT (seconds between SIGTERM and SIGKILL on scancel/timeout, default 5),
#        SLURM_TEST_MINJOBAGE (seconds a finished job stays visible in squeue, default 300),
#        SLURM_TEST_TIMEOUT (seconds `start` waits for the node to be idle, default 30).
# Needs root (SlurmUser=root, SlurmdUser=root); uses no cgroups (proctrack/pgid, task/none).
# If `start` fails it prints the log tails and stops what it had started.
set -euo pipefail

log() { printf 'slurm-test-cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: slurm-test-cluster.sh install
       slurm-test-cluster.sh start DIR   # prints `export SLURM_CONF=DIR/slurm.conf`
       slurm-test-cluster.sh stop DIR
       slurm-test-cluster.sh status DIR  # exit 0 if all three daemons of DIR run
EOF
  exit 2
}

have_all() {
  local b
  for b in sbatch squeue scancel sinfo sacct scontrol slurmctld slurmd munged; do
    command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$b" >/dev/null 2>&1 || return 1
  done
}

cmd_install() {
  # slurmd/slurmctld/munged live in /usr/sbin, which a non-login root shell may lack.
  export PATH=$PATH:/usr/sbin:/sbin
  if have_all; then
    log "slurm and munge already installed ($(slurmctld -V 2>/dev/null || echo '?'))"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "install needs root"
  export DEBIAN_FRONTEND=noninteractive
  local pkgs=(slurmctld slurmd slurm-client munge)
  # Only refresh the package lists when apt does not know the packages yet (fresh machine).
  if ! apt-cache show "${pkgs[@]}" >/dev/null 2>&1; then
    apt-get update >&2
  fi
  # The postinst scripts try to start the system-wide munge/slurm services; without systemd
  # invoke-rc.d would run the init scripts and leave a stray munged on /run/munge. A
  # policy-rc.d that exits 101 forbids that (Debian container images usually ship one).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made_policy=1
  fi
  local rc=0
  apt-get install -y --no-install-recommends "${pkgs[@]}" >&2 || rc=$?
  if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
  [ "$rc" = 0 ] || die "apt-get install failed ($rc)"
  have_all || die "packages installed but some binaries are still missing"
  log "installed $(slurmctld -V)"
}

# A TCP port nobody listens on (checked against /proc/net/tcp*, since ss/netstat may be absent).
# Random in 20000-59999 so that clusters started in parallel rarely pick the same one.
free_port() {
  local avoid=${1:-0} p hex
  for _ in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    [ "$p" != "$avoid" ] || continue
    hex=$(printf ':%04X ' "$p")
    if ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '{print $2" "}' | grep -q -- "$hex"; then
      echo "$p"
      return 0
    fi
  done
  die "no free TCP port found"
}

# pid from a pid file if that process is alive and its command name starts with $2.
live_pid() {
  local file=$1 name=$2 pid comm
  [ -s "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  case "$comm" in "$name"*) echo "$pid" ;; *) return 1 ;; esac
}

# Pids of processes whose environment holds exactly the string $1 (VAR=value).
pids_with_env() {
  local want=$1 d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" != "$$" ] || continue
    # Some /proc entries refuse environ (gVisor: "No such process"); skip them quietly.
    if { tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qxF -- "$want"; then echo "$pid"; fi
  done
}

# SIGTERM the given pids, wait up to $1 seconds, then SIGKILL what is left and wait for it.
kill_wait() {
  local secs=$1 pid left
  shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 1 $((secs * 10))); do
    left=()
    for pid in "$@"; do if kill -0 "$pid" 2>/dev/null; then left+=("$pid"); fi; done
    [ ${#left[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  log "still alive after ${secs}s, sending SIGKILL: ${left[*]} ($(cat /proc/"${left[0]}"/comm 2>/dev/null))"
  kill -KILL "${left[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    left=()
    for pid in "$@"; do if kill -0 "$pid" 2>/dev/null; then left+=("$pid"); fi; done
    [ ${#left[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  log "warning: could not kill ${left[*]}"
}

abs_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd -P)
}

# Start failed: show why, then stop whatever of this cluster already runs.
fail_start() {
  tails
  cmd_stop "$DIR" 2>/dev/null || true
  die "$*"
}

tails() {
  local f
  for f in "$DIR"/log/munged.log "$DIR"/log/slurmctld.log "$DIR"/log/slurmd.log; do
    [ -e "$f" ] || continue
    printf -- '----- tail %s\n' "$f" >&2
    tail -n 25 "$f" >&2 || true
  done
}

cmd_start() {
  export PATH=$PATH:/usr/sbin:/sbin
  have_all || die "slurm/munge missing: run '$0 install' first"
  [ "$(id -u)" = 0 ] || die "start needs root (SlurmUser=root)"
  DIR=$(abs_dir "$1")
  local conf=$DIR/slurm.conf
  # Unix socket paths are limited to 108 bytes: munge's DIR/munge/munge.socket.lock and
  # slurmd's per-step sockets DIR/spool/HOST_JOBID.STEPID (up to 10 digits each).
  local host max
  host=$(hostname -s)
  max=$((107 - 29 - ${#host}))
  [ ${#DIR} -le "$max" ] || die "DIR too long for unix socket paths (${#DIR} > $max chars): $DIR"

  local n_alive=0 d
  for d in munged slurmctld slurmd; do
    if live_pid "$DIR/run/$d.pid" "$d" >/dev/null; then n_alive=$((n_alive + 1)); fi
  done
  if [ "$n_alive" = 3 ] && SLURM_CONF=$conf sinfo -h -o %T 2>/dev/null | grep -q '^idle\|^mix\|^alloc'; then
    log "already running in $DIR"
    printf 'export SLURM_CONF=%s\n' "$conf"
    return 0
  fi
  [ "$n_alive" = 0 ] || die "a partly running cluster is in $DIR: run '$0 stop $DIR' first"

  local t0=$SECONDS
  mkdir -p "$DIR"/{munge,run,log,state,spool}
  # munged refuses key/socket dirs writable by group/other; 0755 keeps the socket usable
  # by non-root clients too (the key itself is 0400).
  chmod 0755 "$DIR" "$DIR/munge"

  # --- munge: own key, socket, pid, log, seed; nothing under /etc or /run.
  if [ ! -s "$DIR/munge/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1 count=1024 status=none
  fi
  chmod 0400 "$DIR/munge/munge.key"
  local sock=$DIR/munge/munge.socket
  rm -f "$sock" "$sock.lock"
  # --force: not needed for 0755 dirs under /tmp, but munged would otherwise refuse a DIR
  # below a group/other-writable parent; it still logs such warnings in munged.log.
  munged --force --key-file="$DIR/munge/munge.key" --socket="$sock" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed" >&2 || fail_start "munged failed to start"

  for _ in $(seq 1 50); do [ -S "$sock" ] && break; sleep 0.1; done
  [ -S "$sock" ] || fail_start "munged socket $sock did not appear"

  # --- slurm.conf
  local cpus mem_mb ctld_port slurmd_port
  cpus=$(nproc)
  # RealMemory above what slurmd detects drains the node: leave a margin (5 %, >= 256 MB).
  mem_mb=$(awk '/^MemTotal:/ { m = int($2 / 1024); d = int(m / 20); if (d < 256) d = 256; m -= d; if (m < 1) m = 1; print m }' /proc/meminfo)
  # Give slurmd's detected topology (slurmd -C) when it agrees with nproc: with CPUs alone
  # Slurm assumes CPUs sockets of 1 core each and logs a "reconfigured socket/core" notice.
  # Not with hyperthreads: CR_Core would then give each 1-CPU task a whole core (2 CPUs),
  # while CPUs alone lets nproc one-CPU tasks run at once, which is what tests expect.
  local topo=""
  topo=$(slurmd -C 2>/dev/null | head -n1 | tr ' ' '\n' |
    awk -F= -v n="$cpus" '($1 == "CPUs" && $2 != n) || ($1 == "ThreadsPerCore" && $2 != 1) { bad = 1 }
      $1 ~ /^(Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)$/ { t = t " " $0 }
      END { if (!bad) print t }') || topo=""
  ctld_port=$(free_port)
  slurmd_port=$(free_port "$ctld_port")
  cat >"$conf" <<EOF
# Generated by scripts/slurm-test-cluster.sh: a private single-node test cluster.
ClusterName=test
# Address 127.0.0.1 so nothing depends on how the hostname resolves.
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: the sandbox may have no writable cgroup hierarchy. pgid, not linuxproc:
# linuxproc finds a job's processes through their parent chain, so background children
# that outlive the batch script (reparented to PID 1) were left running after the job
# ended; pgid kills the job's whole process group (only setsid escapes it).
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
# Per-core allocation, so N one-CPU tasks run at once on N cores.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MailProg=/bin/true
# Tests want quick kills and finished jobs still visible in squeue for a while.
KillWait=${SLURM_TEST_KILLWAIT:-5}
MinJobAge=${SLURM_TEST_MINJOBAGE:-300}
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
PlugStackConfig=$DIR/plugstack.conf
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus$topo RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  # An empty plugstack so no system-wide SPANK plugin gets loaded.
  : >"$DIR/plugstack.conf"
  export SLURM_CONF=$conf

  # -c: start from a clean state (no recovered jobs from an earlier run in the same DIR).
  slurmctld -c -f "$conf" >&2 || fail_start "slurmctld failed to start"
  slurmd -f "$conf" >&2 || fail_start "slurmd failed to start"

  # Wait (bounded) until the node registered and is idle.
  local limit=${SLURM_TEST_TIMEOUT:-30} state=""
  while :; do
    state=$(sinfo -h -o %T 2>/dev/null | head -n1 || true)
    [ "$state" != idle ] || break
    if [ $((SECONDS - t0)) -ge "$limit" ]; then
      fail_start "node not idle after ${limit}s (sinfo state: '${state}')"
    fi
    sleep 0.2
  done
  log "cluster up in $((SECONDS - t0))s: $DIR (node $host, $cpus CPUs, ${mem_mb} MB, ports $ctld_port/$slurmd_port)"
  printf 'export SLURM_CONF=%s\n' "$conf"
}

# Leftover slurmstepd and job processes of this cluster: they carry SLURM_CONF=DIR/slurm.conf
# in their environment (even with --export=NONE); job processes also have SLURM_JOB_ID,
# which keeps the caller's own shell (which may export SLURM_CONF too) out of this.
kill_job_leftovers() {
  local conf=$1 p left=()
  while read -r p; do
    [ -n "$p" ] || continue
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = slurmstepd ] ||
      { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -q '^SLURM_JOB_ID='; then
      left+=("$p")
    fi
  done < <(pids_with_env "SLURM_CONF=$conf")
  if [ ${#left[@]} -gt 0 ]; then
    log "killing leftover job processes: ${left[*]}"
    kill -KILL "${left[@]}" 2>/dev/null || true
  fi
}

cmd_stop() {
  export PATH=$PATH:/usr/sbin:/sbin
  [ -d "$1" ] || { log "no $1: nothing to stop"; return 0; }
  DIR=$(cd "$1" && pwd -P)
  local conf=$DIR/slurm.conf pid
  # Jobs first: slurmstepd and job processes outlive slurmd by design. No scancel: on a
  # cancel slurmstepd waits KillWait before SIGKILL (even for scancel -s KILL) and then
  # several seconds more, and the cluster's job state is thrown away anyway.
  kill_job_leftovers "$conf"
  local name pids=()
  for name in slurmd slurmctld; do
    if pid=$(live_pid "$DIR/run/$name.pid" "$name"); then pids+=("$pid"); fi
  done
  kill_wait 5 "${pids[@]+"${pids[@]}"}"
  kill_job_leftovers "$conf"
  if pid=$(live_pid "$DIR/run/munged.pid" munged); then kill_wait 5 "$pid"; fi
  rm -f "$DIR"/run/*.pid
  log "stopped: $DIR"
}

cmd_status() {
  [ -d "$1" ] || { log "no $1"; return 1; }
  DIR=$(cd "$1" && pwd -P)
  local d ok=0
  for d in munged slurmctld slurmd; do
    if pid=$(live_pid "$DIR/run/$d.pid" "$d"); then log "$d running (pid $pid)"; else log "$d not running"; ok=1; fi
  done
  return "$ok"
}

[ $# -ge 1 ] || usage
case "$1" in
  install) [ $# = 1 ] || usage; cmd_install ;;
  start) [ $# = 2 ] || usage; cmd_start "$2" ;;
  stop) [ $# = 2 ] || usage; cmd_stop "$2" ;;
  status) [ $# = 2 ] || usage; cmd_status "$2" ;;
  *) usage ;;
esac
