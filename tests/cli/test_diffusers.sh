#!/usr/bin/env bash
# `diffuse export --format diffusers` and `diffuse import`: an exported model loads in diffusers'
# UNet2DModel.from_pretrained and computes our output; imported back it is the same model and fine-tunes, samples
# and resumes; bad directories and outputs fail with one "error:" line and write nothing.
# diffusers runs in a venv under /tmp over Debian's python3-torch (scripts/setup.sh installs it), made here once
# with pinned versions that work with that torch; a failed install fails the test, saying why.
# Usage: test_diffusers.sh path/to/diffuse path/to/source-dir path/to/compare_with_diffusers
set -euo pipefail
diffuse=$1
source_dir=$2
compare=$3
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

venv=/tmp/diffuse-diffusers-venv
pins=(diffusers==0.27.2 huggingface_hub==0.23.4 safetensors==0.4.3)
if ! "$venv/bin/python" -c "import diffusers; assert diffusers.__version__ == '0.27.2'" 2>/dev/null; then
  if ! /usr/bin/python3 -c "import torch" 2>"$work/torch.log"; then
    fail "no PyTorch for /usr/bin/python3 (apt-get install python3-torch python3-venv): $(tail -1 "$work/torch.log")"
    finish "diffusers"
  fi
  rm -rf "$venv"
  if ! { /usr/bin/python3 -m venv --system-site-packages "$venv" && "$venv/bin/pip" install -q "${pins[@]}"; } \
    >"$work/install.log" 2>&1; then
    fail "installing ${pins[*]} into $venv failed: $(tail -3 "$work/install.log")"
    finish "diffusers"
  fi
fi
python=$venv/bin/python
forward=$source_dir/tests/cli/diffusers_forward.py

# expect_error NAME PATTERN COMMAND...: the command fails with exactly one line on stderr, an "error:" line
# matching PATTERN, and prints nothing on stdout.
expect_error() {
  local name=$1 pattern=$2
  shift 2
  local status=0
  "$@" >"$work/stdout" 2>"$work/stderr" || status=$?
  if [[ $status -ne 0 && $(wc -l <"$work/stderr") -eq 1 && ! -s $work/stdout ]] &&
    grep -q "^error: .*$pattern" "$work/stderr"; then
    pass "$name"
  else
    fail "$name (exit $status): $(cat "$work/stdout" "$work/stderr")"
  fi
}

# A class-conditional tiny model on the linear schedule (so that a scheduler config is written), one step trained.
prepare_fmnist_test_split "$diffuse" "$work/test.h5"
config=$source_dir/configs/tiny.yaml
settings=(--set "data.train=$work/test.h5" --set diffusion.schedule=linear --set diffusion.prediction=eps)
"$diffuse" train --config "$config" --run-dir "$work/run" "${settings[@]}" --set train.steps=1 \
  --set train.batch_size=2 --set train.checkpoint_every=1 >/dev/null 2>&1
checkpoint=$work/run/checkpoints/ckpt-00000001.h5

"$diffuse" export --ckpt "$checkpoint" --format diffusers --out "$work/exported" >/dev/null 2>&1
if [[ -f $work/exported/diffusion_pytorch_model.safetensors && -f $work/exported/config.json ]] &&
  grep -q '"beta_schedule": "linear"' "$work/exported/scheduler_config.json"; then
  pass "export writes the weights, config.json and scheduler_config.json"
else
  fail "export output: $(ls "$work/exported")"
fi

if "$python" "$forward" "$work/exported" "$work/io.safetensors" 10 >"$work/python.log" 2>&1 &&
  "$compare" "$checkpoint" first "$work/io.safetensors" >"$work/compare.log" 2>&1; then
  pass "UNet2DModel.from_pretrained computes our output ($(cat "$work/compare.log"))"
else
  fail "diffusers' output differs from ours: $(tail -3 "$work/python.log") $(cat "$work/compare.log")"
fi
# Every weight of a freshly trained model but the last convs of each block is near its start, and those start near
# zero; the committed fixture's model has every weight random: imported and exported again, diffusers must agree.
fixture=$source_dir/tests/reference/diffusers_tiny
"$diffuse" import --from "$fixture/model" --config "$fixture/model.yaml" --out "$work/random.h5" >/dev/null 2>&1
"$diffuse" export --ckpt "$work/random.h5" --format diffusers --out "$work/random" >/dev/null 2>&1
if "$python" "$forward" "$work/random" "$work/random_io.safetensors" 3 >"$work/random.log" 2>&1 &&
  "$compare" "$work/random.h5" first "$work/random_io.safetensors" >"$work/compare.log" 2>&1; then
  pass "diffusers computes our output with every weight random ($(cat "$work/compare.log"))"
else
  fail "diffusers' output differs from ours (random weights): $(tail -3 "$work/random.log") $(cat "$work/compare.log")"
fi
if grep -q "^parameters 702753$" "$work/python.log"; then  # what export reported
  pass "diffusers counts our parameters"
else
  fail "parameter count: $(cat "$work/python.log")"
fi

# Every ADM option on (scale_shift_norm, num_head_channels, resblock_updown): the committed fixture, imported and
# exported again, loads in diffusers and computes our output.
adm=$source_dir/tests/reference/diffusers_tiny_adm
"$diffuse" import --from "$adm/model" --config "$adm/model.yaml" --out "$work/adm.h5" >/dev/null 2>&1
"$diffuse" export --ckpt "$work/adm.h5" --format diffusers --out "$work/adm" >/dev/null 2>&1
if "$python" "$forward" "$work/adm" "$work/adm_io.safetensors" 3 >"$work/adm.log" 2>&1 &&
  "$compare" "$work/adm.h5" first "$work/adm_io.safetensors" >"$work/compare.log" 2>&1; then
  pass "diffusers computes our output with every ADM option on ($(cat "$work/compare.log"))"
else
  fail "diffusers' output differs from ours (ADM options): $(tail -3 "$work/adm.log") $(cat "$work/compare.log")"
fi

# An EDM model: the UNet is exported, without a scheduler config, saying what must wrap it.
sed -e 's/^  schedule: linear$/  formulation: edm/' -e '/^  timesteps:/d' -e '/^  prediction:/d' \
  "$fixture/model.yaml" >"$work/edm.yaml"
"$diffuse" import --from "$fixture/model" --config "$work/edm.yaml" --out "$work/edm.h5" >/dev/null 2>&1
if "$diffuse" export --ckpt "$work/edm.h5" --format diffusers --out "$work/edm" >"$work/edm.log" 2>&1 &&
  [[ -f $work/edm/config.json && ! -e $work/edm/scheduler_config.json ]] &&
  grep -q "^warning: no scheduler_config.json written: an EDM model needs its preconditioning" "$work/edm.log"; then
  pass "export of an EDM model writes no scheduler config and says why"
else
  fail "EDM export: $(cat "$work/edm.log") $(ls "$work/edm")"
fi

# Imported back: the same parameters, then fine-tuned (train --resume), sampled.
"$diffuse" import --from "$work/exported" --config "$config" "${settings[@]}" --out "$work/imported.h5" >/dev/null 2>&1
if "$compare" "$work/imported.h5" none "$work/io.safetensors" >/dev/null 2>&1; then
  pass "import gives back the exported model"
else
  fail "the imported model differs from diffusers'"
fi
if "$diffuse" train --config "$config" --run-dir "$work/tuned" "${settings[@]}" --set train.steps=2 \
  --set train.batch_size=2 --set train.checkpoint_every=2 --resume "$work/imported.h5" >"$work/tune.log" 2>&1 &&
  [[ -f $work/tuned/checkpoints/ckpt-00000002.h5 ]] &&
  "$diffuse" sample --ckpt "$work/imported.h5" --steps 2 --n 10 --out "$work/grid.png" >/dev/null 2>&1; then
  pass "the imported checkpoint fine-tunes with train --resume and samples"
else
  fail "fine-tuning or sampling the import: $(tail -3 "$work/tune.log")"
fi

# Bad input: one error line each, nothing written.
mkdir "$work/taken" && echo mine >"$work/taken/notes.txt"
expect_error "export refuses a non-empty --out" "taken exists and is not an empty directory" \
  "$diffuse" export --ckpt "$checkpoint" --format diffusers --out "$work/taken"
[[ $(ls "$work/taken") == notes.txt ]] || fail "export wrote into a non-empty directory"
expect_error "import refuses an existing --out" "already exists" \
  "$diffuse" import --from "$work/exported" --config "$config" "${settings[@]}" --out "$work/imported.h5"
expect_error "import names the differing config.json key" "config.json: block_out_channels is \[32,64\]" \
  "$diffuse" import --from "$work/exported" --config "$config" "${settings[@]}" --set model.channels=16 \
  --out "$work/other.h5"
"$python" - "$work/exported" "$work" <<'PY'
import os, shutil, sys
from safetensors.torch import load_file, save_file
source, work = sys.argv[1], sys.argv[2]
tensors = load_file(os.path.join(source, "diffusion_pytorch_model.safetensors"))
for name, edit in [("missing", lambda t: t.pop("conv_out.bias")),
                   ("reshaped", lambda t: t.update({"conv_in.weight": t["conv_in.weight"][:, :, :1, :1].clone()}))]:
    os.makedirs(os.path.join(work, name))
    shutil.copy(os.path.join(source, "config.json"), os.path.join(work, name))
    edited = dict(tensors)
    edit(edited)
    save_file(edited, os.path.join(work, name, "diffusion_pytorch_model.safetensors"))
os.makedirs(os.path.join(work, "pickled"))
shutil.copy(os.path.join(source, "config.json"), os.path.join(work, "pickled"))
open(os.path.join(work, "pickled", "diffusion_pytorch_model.bin"), "wb").write(b"pickle")
PY
expect_error "import names a missing tensor" "has no tensor conv_out.bias" \
  "$diffuse" import --from "$work/missing" --config "$config" "${settings[@]}" --out "$work/bad.h5"
expect_error "import names a tensor of another shape and both shapes" \
  "tensor conv_in.weight is f32\[32,1,1,1\].*\[32,1,3,3\]" \
  "$diffuse" import --from "$work/reshaped" --config "$config" "${settings[@]}" --out "$work/bad.h5"
expect_error "import says how to convert a pickle-only directory" "convert it to safetensors" \
  "$diffuse" import --from "$work/pickled" --config "$config" "${settings[@]}" --out "$work/bad.h5"
[[ ! -e $work/bad.h5 && ! -e $work/other.h5 ]] || fail "a failed import wrote a checkpoint"

finish "diffusers"
