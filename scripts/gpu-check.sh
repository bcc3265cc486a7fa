#!/bin/bash
# gpu-check: the agent's GPU code on a real NVIDIA machine, in one JSON line.
#
# It discovers the GPUs (nvidia-smi), runs a CUDA workload (PyTorch bf16 matmul when PyTorch sees
# CUDA, else an idle sleep) through the LocalExecutor pinned to GPU 0 (CUDA_VISIBLE_DEVICES=0),
# meters its energy from power samples (power.draw.instant or power.draw, trapezoid), reads the
# GPU's own energy counter (total_energy_consumption via nvidia-smi when listed, else NVML through
# python3 ctypes) at the start and end of the same window, and prints one JSON line:
#   {"ok":true,"gpu0":{...},"workload":"torch-matmul","meteredWh":..,"counterWh":..,"diffPct":..,...}
#
# Such a machine has no Node.js, so the script brings its own:
#   1. here (a machine with Node 20 and node_modules): scripts/gpu-check.sh --pack
#      writes .zumbido/gpu-check/node.xz (this machine's node binary, xz -9, ~25 MB) and
#      .zumbido/gpu-check/gpu-check.mjs (src/agent/gpu/gpu-check-main.ts bundled by esbuild).
#      .zumbido/ is git-ignored: carry it to the GPU machine with the working tree.
#   2. there: scripts/gpu-check.sh   (uses `node` from PATH if there is one, else unpacks node.xz)
# Env: GPU_CHECK_SECONDS (workload length, default 20), GPU_CHECK_SAMPLE_MS (default 200),
# GPU_CHECK_PACK_DIR (default .zumbido/gpu-check), GPU_CHECK_USE_PACKED_NODE=1 (ignore node on PATH).
# Exit: 0 ok, 1 check failed (the JSON says why), 2 cannot run (no nvidia-smi, nothing packed).
#
# scripts/gpu-check.sh --container [IMAGE]: the podman executor's GPU isolation on a real host. Runs
# `nvidia-smi -L` in a container given ONE GPU by CDI (`--device nvidia.com/gpu=NAME`, NAME the
# first device `nvidia-ctk cdi list` shows; the CDI spec injects nvidia-smi and the driver's
# libraries) and prints {"ok":true,"container":{"device":..,"gpusSeen":1,...}}; ok only when the
# container sees exactly one GPU while the host has at least one. IMAGE defaults to
# localhost/zumbido/node:host (scripts/ci/setup-containers.sh builds it; it carries glibc).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
PACK=${GPU_CHECK_PACK_DIR:-.zumbido/gpu-check}
fail() { printf '{"ok":false,"error":"%s"}\n' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; echo "gpu-check: $1" >&2; exit "${2:-2}"; }

if [ "${1:-}" = "--pack" ]; then
  command -v node >/dev/null || fail "--pack needs node on this machine"
  [ -x node_modules/.bin/esbuild ] || fail "--pack needs node_modules (esbuild)"
  mkdir -p "$PACK"
  node_modules/.bin/esbuild src/agent/gpu/gpu-check-main.ts --bundle --platform=node --format=esm --target=node20 \
    --log-level=warning --outfile="$PACK/gpu-check.mjs" || fail "esbuild failed"
  xz -9 -T0 -c "$(command -v node)" >"$PACK/node.xz" || fail "xz failed"
  echo "gpu-check: packed $(du -h "$PACK/node.xz" | cut -f1) node ($(node -v)) and $(du -h "$PACK/gpu-check.mjs" | cut -f1) bundle in $PACK" >&2
  exit 0
fi

if [ "${1:-}" = "--container" ]; then
  command -v nvidia-smi >/dev/null 2>&1 || fail "nvidia-smi not found: this machine has no NVIDIA driver (or it is not on PATH); run gpu-check on a GPU machine"
  command -v podman >/dev/null 2>&1 || fail "podman not found: install it with scripts/ci/setup-containers.sh"
  [ -f /etc/zumbido/env ] && . /etc/zumbido/env
  IMAGE=${2:-localhost/zumbido/node:host}
  DEV=$(nvidia-ctk cdi list 2>/dev/null | grep -m1 '^nvidia.com/gpu=' || true)
  [ -n "$DEV" ] || DEV=nvidia.com/gpu=0
  HOST=$(nvidia-smi -L | grep -c '^GPU ')
  OUT=$(podman run --rm --network none --user 1000:1000 --cap-drop all --security-opt no-new-privileges \
    --device "$DEV" "$IMAGE" nvidia-smi -L 2>&1) || fail "podman run with $DEV failed: $(echo "$OUT" | tail -1)" 1
  SEEN=$(printf '%s\n' "$OUT" | grep -c '^GPU ')
  OK=false; [ "$SEEN" = 1 ] && [ "$HOST" -ge 1 ] && OK=true
  printf '{"ok":%s,"container":{"device":"%s","image":"%s","hostGpus":%s,"gpusSeen":%s}}\n' "$OK" "$DEV" "$IMAGE" "$HOST" "$SEEN"
  [ "$OK" = true ] || exit 1
  exit 0
fi

command -v nvidia-smi >/dev/null 2>&1 || fail "nvidia-smi not found: this machine has no NVIDIA driver (or it is not on PATH); run gpu-check on a GPU machine"
[ -s "$PACK/gpu-check.mjs" ] || fail "$PACK/gpu-check.mjs missing: run scripts/gpu-check.sh --pack on a machine with Node and carry .zumbido/ along"
NODE=$(command -v node || true)
[ "${GPU_CHECK_USE_PACKED_NODE:-0}" = 1 ] && NODE=""
if [ -z "$NODE" ]; then
  [ -s "$PACK/node.xz" ] || fail "no node on PATH and no $PACK/node.xz: run scripts/gpu-check.sh --pack first"
  # Unpacked outside $PACK (so that carrying $PACK stays ~25 MB) and reused while newer than the archive.
  NODE=${TMPDIR:-/tmp}/zumbido-gpu-check-node
  if ! [ -x "$NODE" ] || ! [ "$NODE" -nt "$PACK/node.xz" ]; then
    if command -v xz >/dev/null; then
      xz -dc "$PACK/node.xz" >"$NODE"
    else
      python3 -c 'import lzma,sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' "$PACK/node.xz" >"$NODE"
    fi
  fi
  chmod +x "$NODE"
  "$NODE" -v >/dev/null 2>&1 || fail "the packed node does not run here (different libc or CPU architecture?)"
fi
exec "$NODE" "$PACK/gpu-check.mjs"
