#!/usr/bin/env bash
# The TensorBoard event files of a run as TensorBoard itself reads them (its
# EventAccumulator, from the pinned tensorboard package installed into a
# venv): RUN/tensorboard holds the metrics.jsonl scalars at the same steps and
# the sample grids as images; a run resumed from an earlier checkpoint adds a
# file and each step shows once; each distillation stage is a run of its own.
# Usage: test_tensorboard.sh path/to/diffuse path/to/source-dir
set -uo pipefail
diffuse=$1
source_dir=$2
# shellcheck source=tests/support/cli_testing.sh
source "$(dirname "$0")/../support/cli_testing.sh"

tensorboard_version=2.21.0
if ! { /usr/bin/python3 -m venv "$work/venv" && "$work/venv/bin/pip" install --quiet "tensorboard==$tensorboard_version"; } \
  >"$work/pip.log" 2>&1; then
  fail "cannot install tensorboard==$tensorboard_version into a venv (needs python3-venv and PyPI): $(tail -n 5 "$work/pip.log")"
  finish "TensorBoard"
fi

# summarize RUN_DIR [TENSORBOARD_RUN]: what TensorBoard shows of RUN_DIR/tensorboard[/TENSORBOARD_RUN], one line
# per tag, "scalar TAG STEP,VALUE STEP,VALUE ..." and "image TAG STEP:WIDTHxHEIGHT:PNG ...", where PNG is "same"
# when the image holds the bytes of RUN_DIR/samples/step-<STEP>.png.
summarize() {
  "$work/venv/bin/python" - "$1" "${2:-}" <<'PYTHON'
import os
import sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

run_dir, tensorboard_run = sys.argv[1:]
run = EventAccumulator(os.path.join(run_dir, "tensorboard", tensorboard_run), size_guidance={"scalars": 0, "images": 0})
run.Reload()


def png(event):
    path = os.path.join(run_dir, "samples", f"step-{event.step:08d}.png")
    same = os.path.exists(path) and open(path, "rb").read() == event.encoded_image_string
    return "same" if same else "different"


for tag in sorted(run.Tags()["scalars"]):
    print("scalar", tag, " ".join(f"{event.step},{event.value:.6g}" for event in run.Scalars(tag)))
for tag in sorted(run.Tags()["images"]):
    print("image", tag, " ".join(f"{event.step}:{event.width}x{event.height}:{png(event)}" for event in run.Images(tag)))
PYTHON
}

# steps TAG: the steps of scalar TAG in $work/summary.
steps() { sed -n "s/^scalar $1 //p" "$work/summary" | tr ' ' '\n' | cut -d, -f1 | tr '\n' ' '; }

prepare_fmnist_test_split "$diffuse" "$work/test.h5" || fail "prepare idx"
config="$source_dir/configs/tiny.yaml"
train=("$diffuse" train --config "$config" --set "data.train=$work/test.h5" --set train.steps=6 --set train.log_every=1
  --set train.checkpoint_every=2 --set train.keep_checkpoints=10 --set train.sample_every=3 --set sample.per_class=1
  --set sample.steps=2 --run-dir "$work/run")

# 1. Six steps, then again from step 2's checkpoint: steps 3 to 6 are logged twice, in two files.
"${train[@]}" >"$work/train.log" 2>&1 || fail "train: $(cat "$work/train.log")"
"${train[@]}" --resume "$work/run/checkpoints/ckpt-00000002.h5" >"$work/resume.log" 2>&1 ||
  fail "resume: $(cat "$work/resume.log")"
files=$(find "$work/run/tensorboard" -maxdepth 1 -name 'events.out.tfevents.*' | wc -l)
[[ $files -eq 2 ]] && pass "the resumed run starts a second event file" || fail "$files event files, not 2"

summarize "$work/run" >"$work/summary" 2>"$work/summary.err" || fail "EventAccumulator: $(cat "$work/summary.err")"
for tag in loss grad_norm lr img_per_s; do
  [[ $(steps $tag) == "1 2 3 4 5 6 " ]] || fail "scalar $tag at steps '$(steps $tag)', not each of 1 to 6 once"
done
[[ $(steps loss) == "1 2 3 4 5 6 " ]] && pass "after the resume from step 2, TensorBoard shows each step once"
if grep -q "^scalar loss_scale " "$work/summary"; then fail "loss_scale logged without fp16"; fi

# The losses are metrics.jsonl's, as float32.
jsonl_losses=$(sed -n 's/.*"step": \([0-9]*\), "loss": \([^,]*\),.*/\1 \2/p' "$work/run/metrics.jsonl")
event_losses=$(sed -n 's/^scalar loss //p' "$work/summary" | tr ' ' '\n' | tr ',' ' ')
if "$work/venv/bin/python" -c '
import sys
jsonl, events = ([line.split() for line in text.strip().splitlines()] for text in sys.argv[1:])
assert len(jsonl) == len(events) == 6, (jsonl, events)
for (step, loss), (event_step, value) in zip(jsonl, events):
    assert step == event_step and abs(float(loss) - float(value)) <= 1e-5 * abs(float(loss)), (step, loss, value)
' "$jsonl_losses" "$event_losses" 2>"$work/compare.err"; then
  pass "the loss scalars are metrics.jsonl's losses at the same steps"
else
  fail "loss scalars against metrics.jsonl: $(cat "$work/compare.err")"
fi

# The PNG grids of samples/ (10 classes x 1 of 32x32, one column, 2-pixel borders), at steps 3 and 6.
images=$(sed -n 's/^image samples //p' "$work/summary")
[[ $images == "3:36x342:same 6:36x342:same" ]] && pass "the sample grids are the image 'samples' at steps 3 and 6" ||
  fail "image 'samples': '$images'; TensorBoard shows: $(cat "$work/summary")"

# 2. Distillation: a TensorBoard run per stage under RUN/tensorboard.
"$diffuse" distill --config "$config" --set "data.train=$work/test.h5" --teacher "$work/run/checkpoints/ckpt-00000006.h5" \
  --run-dir "$work/distill" --from 8 --to 2 --set distill.steps_per_stage=2 --set train.log_every=1 \
  >"$work/distill.log" 2>&1 || fail "distill: $(cat "$work/distill.log")"
stages=$(cd "$work/distill/tensorboard" 2>/dev/null && echo stage-*)
summarize "$work/distill" stage-2-2steps >"$work/summary" 2>"$work/summary.err"
[[ $stages == "stage-1-4steps stage-2-2steps" && $(steps loss) == "1 2 " ]] &&
  pass "each distillation stage is a TensorBoard run of its own" ||
  fail "distillation runs '$stages', stage 2 loss steps '$(steps loss)': $(cat "$work/summary.err")"

finish "TensorBoard"
