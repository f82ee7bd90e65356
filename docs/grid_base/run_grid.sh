#!/usr/bin/env bash
# The notebook's question at the notebook's scale: on all-mpnet-base-v2 (12 layers, 768 wide), does freezing the
# embeddings and the bottom half of the layers cost MCC, and how much time does it save? Rows: full fine-tuning,
# the notebook's "embeddings + 6 of 12 layers" (freeze 7), and deeper freezes (embeddings + 9, + 11 layers), first
# with class weights (the suite's default), then without (the notebook's `--no-class-weights`), then full
# fine-tuning and the frozen half for 2 epochs; 3 seeds each, 1 epoch unless named (what 2 CPU cores afford:
# about 5 min per full run and epoch). The frozen rows are cached (the default whenever exact). Run alone on the
# machine: the training times are measured. It continues where it stopped (finished seeds are kept); the report
# is rewritten from the finished rows after each row.
#
#   time bash docs/grid_base/run_grid.sh      # needs the base model's wheels fetched (README: requirements-base.txt); DATA=... for CoLA's raw TSVs
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-${COLA_DATA_DIR:-../shared/cola/raw}}
OUT=${OUT:-outputs/grid_base}
SEEDS=${SEEDS:-1 2 3}
export HF_HUB_OFFLINE=1
common=(--model_name_or_path all-mpnet-base-v2 --data_dir "$DATA" --max_length 64 --num_train_epochs 1
        --per_device_train_batch_size 32 --learning_rate 5e-5 --warmup_steps 0.1 --eval_strategy no --save_strategy no
        --load_best_model_at_end false --seeds $SEEDS --resume_from_checkpoint last --disable_tqdm true)
# name: the options that make the row (after the common ones; a later option wins)
rows=(
  "freeze0:--freeze 0"
  "freeze7:--freeze 7"
  "freeze10:--freeze 10"
  "freeze12:--freeze 12"
  "freeze7_no_cw:--freeze 7 --no_class_weights"
  "freeze0_no_cw:--freeze 0 --no_class_weights"
  "freeze10_no_cw:--freeze 10 --no_class_weights"
  "freeze12_no_cw:--freeze 12 --no_class_weights"
  "freeze0_2ep:--freeze 0 --num_train_epochs 2"
  "freeze7_2ep:--freeze 7 --num_train_epochs 2"
)

for row in "${rows[@]}"; do
  name=${row%%:*}
  read -ra options <<< "${row#*:}"
  python train.py "${common[@]}" "${options[@]}" --output_dir "$OUT/$name"
  finished=()
  for r in "${rows[@]}"; do
    if [ -f "$OUT/${r%%:*}/results.json" ]; then finished+=("$OUT/${r%%:*}"); fi
  done
  python -m cola.experiments.compare "${finished[@]}" --out docs/grid_base/report
done
