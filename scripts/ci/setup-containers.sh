#!/usr/bin/env bash
# setup-containers.sh - idempotent setup of rootful Podman (crun, cgroupfs, overlay,
# file events) for the podman executor (`zumbido agent --executor podman`) on Debian 12,
# with no container registry: base images are built locally and `podman import`ed.
# Called by .ci/run before npm ci; an operator can run it on a node too (real GPUs: it
# makes no fake devices; generate the CDI spec with `nvidia-ctk cdi generate`).
#
# Measured on: Debian 12 (bookworm) VM, 2 vCPU, root without CAP_SYS_RESOURCE,
# PID 1 = not systemd, cgroup v1 "hybrid" layout (cgroup2 holding the hugetlb controller).
#
# Usage:   sudo bash scripts/ci/setup-containers.sh        # safe to re-run
# Env knobs (all optional):
#   ZB_CONF_DIR     where containers.conf/storage.conf/env go   (/etc/zumbido)
#   ZB_STATE_DIR    graphroot parent + fake devices + rootfs dirs (/var/lib/zumbido)
#   ZB_IMAGES       images to build: any of "busybox demo node debian debian-node debian-ssh"
#                   (default "busybox demo node"; debian* use mmdebstrap, ~25-60 s each;
#                   debian-ssh adds openssh-server with `podman build` and the Debian mirror)
#   ZB_FAKE_GPUS    number of fake /dev/nvidiaN nodes + CDI entries (default 8, as many as the
#                   Slurm node of setup-slurm.sh has, so that a Slurm job's GPUs all have a CDI device;
#                   skipped automatically when /dev/nvidiactl exists = real GPU host)
#   ZB_WITH_BWRAP   1 = also install bubblewrap (alternative sandbox), default 0
#
# After running:  . /etc/zumbido/env   (exports CONTAINERS_CONF / CONTAINERS_STORAGE_CONF)
set -euo pipefail

ZB_CONF_DIR=${ZB_CONF_DIR:-/etc/zumbido}
ZB_STATE_DIR=${ZB_STATE_DIR:-/var/lib/zumbido}
ZB_IMAGES=${ZB_IMAGES:-busybox demo node}
ZB_FAKE_GPUS=${ZB_FAKE_GPUS:-8}
ZB_WITH_BWRAP=${ZB_WITH_BWRAP:-0}
FAKEDEV_DIR=$ZB_STATE_DIR/fakedev
T0=$(date +%s%N)

log() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '[containers-setup +%d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF   # never inherit a stale/foreign config

# ---------------------------------------------------------------- 1. packages
pkgs=(podman crun conmon catatonit netavark busybox-static)
case " $ZB_IMAGES " in *" debian"*) pkgs+=(mmdebstrap) ;; esac
[ "$ZB_WITH_BWRAP" = 1 ] && pkgs+=(bubblewrap)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[containers-setup] installing: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
log "packages ok: podman $(podman --version | awk '{print $3}'), $(crun --version | head -1)"

# ---------------------------------------------------------------- 2. cgroups
# crun refuses cgroup v1 "hybrid" mode if ANY controller is bound to the v2
# hierarchy:  "crun: cgroups in hybrid mode not supported, drop all controllers
# from cgroupv2".  Fix: re-bind those controllers (here: hugetlb) to v1 hierarchies.
# (Possible only while they are not enabled in any v2 subtree_control.)
if [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
  for c in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
    mkdir -p "/sys/fs/cgroup/$c"
    if ! mountpoint -q "/sys/fs/cgroup/$c"; then
      mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" || die "cannot bind $c to cgroup v1"
      log "cgroup: moved controller '$c' from cgroup2 to v1 (/sys/fs/cgroup/$c)"
    fi
  done
  [ -z "$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ] || die "cgroup2 still has controllers; use runtime=runc"
  CGMODE="v1-hybrid"
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then CGMODE="v2"; else CGMODE="v1"; fi
log "cgroup mode: $CGMODE"

# ---------------------------------------------------------------- 3. config
# Rootful podman defaults to nofile=1048576 / nproc=4194304 for containers; without
# CAP_SYS_RESOURCE (or with lower hard limits) crun fails with
# "setrlimit `RLIMIT_NOFILE`: Operation not permitted". Pin them to <= our hard limits.
# (`--ulimit host` does NOT help in podman 4.3.) NB: a --ulimit on the podman command
# line REPLACES this whole list (then nofile falls back to 1048576 and fails again), so
# the agent must pass both nofile and nproc whenever it passes any --ulimit. The agent
# process that calls podman must have hard limits >= these values.
hn=$(ulimit -Hn); [ "$hn" = unlimited ] && hn=1048576; [ "$hn" -gt 65536 ] && hn=65536
# nproc: podman 4.3 runs conmon/crun with RLIMIT_NPROC = kernel.pid_max (32768 here),
# so anything above min(hard nproc, pid_max) fails with "setrlimit `RLIMIT_NPROC`".
hu=$(ulimit -Hu); [ "$hu" = unlimited ] && hu=65536;   [ "$hu" -gt 65536 ] && hu=65536
pm=$(cat /proc/sys/kernel/pid_max);                    [ "$hu" -gt "$pm" ] && hu=$pm
drv=overlay; grep -qw overlay /proc/filesystems || drv=vfs
if [ "$CGMODE" = v2 ] && [ -d /run/systemd/system ]; then cgm=systemd; else cgm=cgroupfs; fi
mkdir -p "$ZB_CONF_DIR" "$ZB_STATE_DIR/storage"
cat > "$ZB_CONF_DIR/containers.conf.new" <<EOF
# generated by scripts/ci/setup-containers.sh
[containers]
default_ulimits = ["nofile=$hn:$hn", "nproc=$hu:$hu"]
log_driver = "k8s-file"
netns = "none"
pids_limit = 1024
init_path = "/usr/libexec/podman/catatonit"

[network]
network_backend = "netavark"

[engine]
cgroup_manager = "$cgm"
events_logger = "file"
runtime = "crun"
EOF
cat > "$ZB_CONF_DIR/storage.conf.new" <<EOF
# generated by scripts/ci/setup-containers.sh
[storage]
driver = "$drv"
graphroot = "$ZB_STATE_DIR/storage"
runroot = "/run/zumbido/storage"
EOF
cat > "$ZB_CONF_DIR/env.new" <<EOF
export CONTAINERS_CONF=$ZB_CONF_DIR/containers.conf
export CONTAINERS_STORAGE_CONF=$ZB_CONF_DIR/storage.conf
EOF
for f in containers.conf storage.conf env; do
  if ! cmp -s "$ZB_CONF_DIR/$f.new" "$ZB_CONF_DIR/$f" 2>/dev/null; then
    if [ "$f" = storage.conf ] && [ -f "$ZB_CONF_DIR/$f" ]; then
      log "WARNING: storage.conf changed; existing store at $ZB_STATE_DIR/storage may need 'podman system reset'"
    fi
    mv "$ZB_CONF_DIR/$f.new" "$ZB_CONF_DIR/$f"
  else rm -f "$ZB_CONF_DIR/$f.new"; fi
done
# shellcheck disable=SC1091
. "$ZB_CONF_DIR/env"
log "config: $ZB_CONF_DIR (driver=$drv cgroup_manager=$cgm nofile=$hn nproc=$hu)"

# subordinate ids for optional `--userns=auto` (container uid -> unique host uid range)
grep -q '^containers:' /etc/subuid 2>/dev/null || echo 'containers:2147483647:2147483648' >> /etc/subuid
grep -q '^containers:' /etc/subgid 2>/dev/null || echo 'containers:2147483647:2147483648' >> /etc/subgid

# ---------------------------------------------------------------- 4. fake GPUs (CI only)
# Char devices 195:N (nvidiaN) and 195:255 (nvidiactl) with no driver behind them:
# open() from inside the container gives ENXIO when the devices cgroup allows the
# device, EPERM when it does not. Also a CDI spec with the same naming scheme as
# `nvidia-ctk cdi generate` (kind nvidia.com/gpu, device names = GPU index), so the
# agent can use `--device nvidia.com/gpu=<i>` in CI and in production alike.
if [ -e /dev/nvidiactl ]; then
  log "real NVIDIA device nodes present: NOT creating fake GPUs / fake CDI spec"
elif [ "$ZB_FAKE_GPUS" -gt 0 ]; then
  mkdir -p "$FAKEDEV_DIR" /run/cdi
  [ -e "$FAKEDEV_DIR/nvidiactl" ] || mknod -m 666 "$FAKEDEV_DIR/nvidiactl" c 195 255
  {
    echo "# generated by scripts/ci/setup-containers.sh - FAKE GPUs for CI (no driver)"
    echo 'cdiVersion: "0.5.0"'
    echo 'kind: "nvidia.com/gpu"'
    echo 'devices:'
    for i in $(seq 0 $((ZB_FAKE_GPUS - 1))); do
      [ -e "$FAKEDEV_DIR/nvidia$i" ] || mknod -m 666 "$FAKEDEV_DIR/nvidia$i" c 195 "$i"
      echo "  - name: \"$i\""
      echo "    containerEdits:"
      echo "      deviceNodes:"
      echo "        - {path: /dev/nvidia$i, hostPath: $FAKEDEV_DIR/nvidia$i, fileMode: 438}"
    done
    echo 'containerEdits:'
    echo '  deviceNodes:'
    echo "    - {path: /dev/nvidiactl, hostPath: $FAKEDEV_DIR/nvidiactl, fileMode: 438}"
    echo '  env:'
    echo '    - ZUMBIDO_FAKE_GPU=1'
  } > /run/cdi/zumbido-fake-gpu.yaml
  log "fake GPUs: $FAKEDEV_DIR/nvidia{0..$((ZB_FAKE_GPUS - 1))}, nvidiactl; CDI /run/cdi/zumbido-fake-gpu.yaml"
fi

# ---------------------------------------------------------------- 5. images
# The Debian mirror this host's apt already uses (deb822 .sources or one-line .list).
apt_mirror() {
  local m
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
  [ -n "$m" ] || m=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -1)
  [ -n "$m" ] || die "no Debian mirror found in the apt sources"
  echo "$m"
}
mkpasswd_files() { # $1 = rootfs
  mkdir -p "$1/etc" "$1/tmp" "$1/work" "$1/home/tenant"
  printf 'root:x:0:0:root:/root:/bin/sh\ntenant:x:1000:1000:tenant:/home/tenant:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$1/etc/passwd"
  printf 'root:x:0:\ntenant:x:1000:\nnogroup:x:65534:\n' > "$1/etc/group"
  chmod 1777 "$1/tmp"; chown 1000:1000 "$1/home/tenant"
}
busybox_rootfs() { # $1 = rootfs
  rm -rf "$1"; mkdir -p "$1/bin" "$1/proc" "$1/sys" "$1/dev" "$1/run" "$1/var/tmp"
  cp /bin/busybox "$1/bin/busybox"
  for a in $(/bin/busybox --list); do [ -e "$1/bin/$a" ] || ln -s busybox "$1/bin/$a"; done
  mkpasswd_files "$1"
}
import_dir() { # $1 = rootfs dir, $2 = image, $3.. = --change args
  local dir=$1 img=$2; shift 2
  tar --numeric-owner -C "$dir" -cf - . | podman import -q "$@" - "$img" >/dev/null
}
for img in $ZB_IMAGES; do
  case $img in
    busybox)
      name=localhost/zumbido/busybox:latest
      podman image exists $name && { log "image $name exists"; continue; }
      busybox_rootfs "$ZB_STATE_DIR/rootfs/busybox"
      import_dir "$ZB_STATE_DIR/rootfs/busybox" $name --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]'
      ;;
    demo) # the demo's tenant image: busybox (sh, httpd, ...) as uid 1000, no registry
      name=localhost/zumbido/demo:latest
      podman image exists $name && { log "image $name exists"; continue; }
      busybox_rootfs "$ZB_STATE_DIR/rootfs/demo"
      import_dir "$ZB_STATE_DIR/rootfs/demo" $name --change 'ENV PATH=/bin' --change 'USER 1000:1000' \
        --change 'WORKDIR /work' --change 'CMD ["/bin/sh"]'
      ;;
    node) # host's Node.js binary + its shared libs on top of busybox (no registry, no apt)
      name=localhost/zumbido/node:host
      podman image exists $name && { log "image $name exists"; continue; }
      command -v node >/dev/null || die "host has no node binary"
      r=$ZB_STATE_DIR/rootfs/node; busybox_rootfs "$r"; mkdir -p "$r/usr/bin"
      cp "$(readlink -f "$(command -v node)")" "$r/usr/bin/node"
      for l in $(ldd "$r/usr/bin/node" | grep -o '/[^ ]*'); do mkdir -p "$r$(dirname "$l")"; cp -L "$l" "$r$l"; done
      import_dir "$r" $name --change 'ENV PATH=/usr/bin:/bin' --change 'CMD ["/usr/bin/node"]'
      ;;
    debian|debian-node)
      name=localhost/zumbido/$img:bookworm
      podman image exists $name && { log "image $name exists"; continue; }
      inc=ca-certificates; [ $img = debian-node ] && inc=nodejs,ca-certificates
      mmdebstrap --variant=minbase --quiet --include=$inc \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --customize-hook='chroot "$1" useradd -u 1000 -m tenant' \
        bookworm - "$(apt_mirror)" | podman import -q --change 'CMD ["/bin/bash"]' - $name >/dev/null
      ;;
    debian-ssh) # Debian + openssh-server for the relay's SSH test: test/fixtures/sshd/Containerfile
      name=localhost/zumbido/debian-ssh:bookworm
      podman image exists $name && { log "image $name exists"; continue; }
      podman image exists localhost/zumbido/debian:bookworm || ZB_IMAGES=debian bash "$0"
      here=$(cd "$(dirname "$0")/../.." && pwd)
      podman build -q --network host -t $name -f "$here/test/fixtures/sshd/Containerfile" "$here/test/fixtures/sshd" >/dev/null
      ;;
    *) die "unknown image '$img'" ;;
  esac
  log "built image $name ($(podman image inspect $name --format '{{.Size}}') bytes)"
done

# ---------------------------------------------------------------- 6. smoke test
out=$(podman run --rm --network none --user 1000:1000 localhost/zumbido/busybox:latest sh -c 'echo ok-$(id -u)' 2>&1) \
  || die "smoke test failed: $out"
[ "$out" = ok-1000 ] || die "smoke test unexpected output: $out"
log "smoke test ok; done. Use:  . $ZB_CONF_DIR/env && podman ps"
