#!/usr/bin/env bash
# The GPU checks of issue 23 (and issue 12's PSNR/SSIM speed) as one prepared script for one lent-device call.
#
# Usage, on a device machine whose Python has torch but not torch-fidelity (carry its wheel, see the device
# tool's README), from the repository root, with the results written under $OUT (default ./device-out):
#
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
#   bash tests/benchmarks/device_checks.sh            # about 6-8 minutes on one H100/H200
#
# Each part writes its own file as soon as it ends (so a call stopped at its limit keeps the earlier parts):
#   env.txt          GPU, driver, torch and torch-fidelity versions
#   no_sync.txt      the train steps hold no host synchronisation on CUDA (set_sync_debug_mode "error")
#   step_speed.txt   harness / official-structure step ratios at the paper's widths: fp32, bf16, bf16 + compile
#   pair_stack.txt   faces pair models stacked / one by one (CycleGAN, DIAT-A) at the standard widths
#   step_times.txt   seconds a step at the standard profile on faces: StarGAN, DIAT-A, CycleGAN (serial, stacked)
#   psnr_ssim.txt    batched PSNR/SSIM on the GPU vs a per-image scikit-image loop
set -u
cd "$(dirname "$0")/../.."
OUT="${OUT:-$PWD/device-out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HARNESS_CACHE_DIR="${HARNESS_CACHE_DIR:-/tmp/hc}"
BENCH=(--benchmark-only --benchmark-enable -s -q -p no:cacheprovider)

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python -c "import torch, torch_fidelity; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'torch-fidelity', torch_fidelity.__version__)"; } > "$OUT/env.txt" 2>&1

timeout 120 python -m pytest -q -p no:cacheprovider tests/harness/test_no_sync.py tests/harness/test_pair_stack.py \
  tests/harness/test_pair_stack_diat.py -k cuda > "$OUT/no_sync.txt" 2>&1
timeout 240 python -m pytest tests/benchmarks/test_step_speed.py -k cuda "${BENCH[@]}" > "$OUT/step_speed.txt" 2>&1
timeout 120 python -m pytest tests/benchmarks/test_pair_stack_speed.py -k cuda "${BENCH[@]}" > "$OUT/pair_stack.txt" 2>&1
{ timeout 150 python tests/benchmarks/step_times.py --profile standard --task faces --device cuda --steps 20 \
    stargan diat_a cyclegan
  timeout 60 python tests/benchmarks/step_times.py --profile standard --task faces --device cuda --steps 20 \
    cyclegan --set cyclegan.pair_training=stacked
  timeout 60 python tests/benchmarks/step_times.py --profile standard --task faces --device cuda --steps 20 \
    diat_a --set diat.pair_training=stacked; } > "$OUT/step_times.txt" 2>&1
PSNR_SSIM_DEVICE=cuda timeout 60 python -m pytest tests/benchmarks/test_psnr_ssim_speed.py "${BENCH[@]}" \
  > "$OUT/psnr_ssim.txt" 2>&1
tail -n 4 "$OUT"/*.txt
