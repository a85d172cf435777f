#!/usr/bin/env bash
# The GPU check for a machine that has an NVIDIA GPU (this project's CI host has none; see
# docs/reference/gpu.md §4). Runs, as the calling user:
#   1. nvidia-smi on the host, then through `singlet exec --nv` (legacy binds) and, when
#      --contain is given, with a minimal /dev;
#   2. a CUDA sample (deviceQuery-like, compiled with nvcc when present, else the image's
#      own `nvidia-smi -L`) through --nv;
#   3. --nvccli when nvidia-container-cli is installed;
#   4. CDI: `nvidia-ctk cdi generate` into a temporary directory, then
#      `singlet exec --cdi-dirs DIR --device nvidia.com/gpu=all`.
# Usage: tests/gpu/run.sh [IMAGE]   (default: docker://nvidia/cuda:12.4.1-base-ubuntu22.04)
# Exits non-zero at the first check that fails; prints what each step ran.
set -euo pipefail
SINGLET=${SINGLET:-singlet}
IMAGE=${1:-docker://nvidia/cuda:12.4.1-base-ubuntu22.04}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
step() { echo "== $*"; }

step "host driver"
nvidia-smi -L

step "--nv: nvidia-smi in the container"
"$SINGLET" exec --nv --gpu-strict "$IMAGE" nvidia-smi -L | tee "$work/nv.txt"
diff <(nvidia-smi -L) "$work/nv.txt"

step "--nv --contain: the device nodes in a minimal /dev"
"$SINGLET" exec --nv --contain "$IMAGE" sh -c 'ls /dev/nvidia*; nvidia-smi -L'

if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
  step "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES reaches the container through --cleanenv"
  "$SINGLET" exec --nv --cleanenv "$IMAGE" sh -c 'test "$CUDA_VISIBLE_DEVICES" = "'"$CUDA_VISIBLE_DEVICES"'"'
fi

if command -v nvcc >/dev/null; then
  step "a CUDA program compiled on the host, run through --nv"
  cat > "$work/q.cu" <<'CU'
#include <cstdio>
#include <cuda_runtime.h>
__global__ void add(int *x) { x[threadIdx.x] += threadIdx.x; }
int main() {
  int n = 0; cudaGetDeviceCount(&n); printf("devices %d\n", n);
  int *d, h[32] = {0}; cudaMalloc(&d, sizeof h); cudaMemcpy(d, h, sizeof h, cudaMemcpyHostToDevice);
  add<<<1, 32>>>(d); cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
  printf("sum %d\n", [&]{ int s = 0; for (int v : h) s += v; return s; }());
  return n > 0 ? 0 : 1;
}
CU
  nvcc -cudart static -o "$work/q" "$work/q.cu"
  "$SINGLET" exec --nv -B "$work" "$IMAGE" "$work/q" | tee "$work/q.txt"
  grep -q "sum 496" "$work/q.txt"
fi

if command -v nvidia-container-cli >/dev/null; then
  step "--nvccli"
  "$SINGLET" exec --nvccli "$IMAGE" nvidia-smi -L
fi

if command -v nvidia-ctk >/dev/null; then
  step "CDI: nvidia-ctk cdi generate, then --device nvidia.com/gpu=all"
  nvidia-ctk cdi generate --output="$work/cdi/nvidia.yaml" >/dev/null
  "$SINGLET" exec --cdi-dirs "$work/cdi" --device nvidia.com/gpu=all "$IMAGE" nvidia-smi -L
fi
echo "== all GPU checks passed"
