#!/usr/bin/env bash
# `diffuse eval` under `mpirun -np 2` reports what one process reports: each
# rank samples its share of the global sample indices and the features are
# gathered in index order. Only the summation order of GEMMs over other batch
# sizes differs, so the metrics agree to a relative 1e-4.
# Usage: test_eval_mpi.sh DIFFUSE_BINARY MPIEXEC SOURCE_DIR
set -euo pipefail
diffuse=$1
mpiexec=$2
source_dir=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fmnist=/usr/share/datasets/fashion-mnist

"$diffuse" prepare idx --images "$fmnist/t10k-images-idx3-ubyte.gz" --labels "$fmnist/t10k-labels-idx1-ubyte.gz" \
  --out "$work/ref.h5" >/dev/null
"$diffuse" train --config "$source_dir/configs/tiny.yaml" --run-dir "$work/run" --set "data.train=$work/ref.h5" \
  --set train.steps=2 --set train.checkpoint_every=2 >/dev/null
"$diffuse" train-classifier --data "$work/ref.h5" --test "$work/ref.h5" --out "$work/features.h5" --max-steps 3 \
  --channels 8,8 --feature-dim 8 >/dev/null
checkpoint=$(ls "$work"/run/checkpoints/ckpt-*.h5 | tail -1)
arguments=(eval --ckpt "$checkpoint" --steps 2 --n 30 --batch 8 --kid-subsets 4 --ref "$work/ref.h5"
           --features "$work/features.h5")

"$diffuse" "${arguments[@]}" --out "$work/np1.json" >/dev/null
rm -f "$work"/ref.h5.*.stats.h5  # the ranks featurize the reference set too, each its share
"$mpiexec" -np 2 --oversubscribe "$diffuse" "${arguments[@]}" --out "$work/np2.json" >/dev/null

status=0
for key in n fid kid_mean kid_std precision recall class_accuracy; do
  one=$(sed -n "s/^  \"$key\": \([^,]*\),*$/\1/p" "$work/np1.json")
  two=$(sed -n "s/^  \"$key\": \([^,]*\),*$/\1/p" "$work/np2.json")
  if ! awk -v a="$one" -v b="$two" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a;
                                           exit !(a != "" && d <= 1e-4 * m + 1e-9) }'; then
    echo "$key: np 1 gives '$one', np 2 gives '$two'"
    status=1
  fi
done
grep -q '"ranks": 2' "$work/np2.json" || { echo "np2 report does not say 2 ranks"; status=1; }
if ((status == 0)); then echo "eval under mpirun -np 2 matches -np 1"; fi
exit $status
