#!/usr/bin/env bash
# The quickstart: set up, convert Fashion-MNIST, train the small
# class-conditional model of configs/fmnist_small.yaml (about 6 minutes on two
# CPU cores), and draw a grid with one row per class from its EMA weights.
# Re-running continues the run from its newest checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

data_dir=datasets/fashion-mnist
run_dir=runs/fmnist_small
if [[ ! -f $data_dir/train.h5 || ! -f $data_dir/test.h5 ]]; then
  build/diffuse prepare fashion-mnist --out "$data_dir"
fi

build/diffuse train --config configs/fmnist_small.yaml --run-dir "$run_dir" --resume auto

checkpoint=$(ls "$run_dir"/checkpoints/ckpt-*.h5 | tail -n 1)
grid=$run_dir/samples/classes-$(basename "$checkpoint" .h5).png
if [[ ! -f $grid ]]; then
  build/diffuse sample --ckpt "$checkpoint" --sampler ddim --steps 50 --guidance 2 --n 80 --seed 1 --out "$grid"
fi

echo
echo "checkpoint:  $checkpoint"
echo "sample grid: $grid  (one row per class: t-shirt, trouser, pullover, dress, coat,"
echo "             sandal, shirt, sneaker, bag, ankle boot)"
echo "metrics:     $run_dir/metrics.jsonl"
