#!/usr/bin/env bash
# Does dropout in frozen layers help or hurt? The quick recipe with --freeze 3 (embeddings + 2 of 6 layers),
# 5 seeds, frozen groups in eval mode (the default, and therefore cached) vs in train mode (dropout on, uncached).
# The default of --frozen_eval_mode was chosen from this. Restartable (finished seeds are kept, an interrupted one
# continues from its last checkpoint).
#
#   bash docs/frozen/run_eval_mode.sh                # from the repository root; DATA=... to point at CoLA's raw TSVs
#   SEEDS="1 2 3" bash docs/frozen/run_eval_mode.sh  # what fitted in the session that chose the default
set -euo pipefail
DATA=${DATA:-${COLA_DATA_DIR:-../shared/cola/raw}}
OUT=${OUT:-outputs/frozen_eval_mode}
read -r -a SEEDS <<< "${SEEDS:-1 2 3 4 5}"
export HF_HUB_OFFLINE=1
common=(--recipe recipes/quick.json --data_dir "$DATA" --freeze 3 --seeds "${SEEDS[@]}" --resume_from_checkpoint last
        --disable_tqdm true)

python train.py "${common[@]}" --output_dir "$OUT/eval_mode" --frozen_eval_mode
python train.py "${common[@]}" --output_dir "$OUT/train_mode" --no-frozen-eval-mode
python -m cola.experiments.compare "$OUT/eval_mode" "$OUT/train_mode" --out docs/frozen/eval_mode
