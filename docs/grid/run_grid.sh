#!/usr/bin/env bash
# The notebook's question on the offline model: does freezing or class weighting help on CoLA?
# {freeze 0, half, most} x {class weights on, off}, plus layer-wise LR decay and gradual unfreezing, 5 seeds each,
# then the comparison report in docs/grid/. Restartable: finished seeds are kept (--resume_from_checkpoint last).
#
#   bash docs/grid/run_grid.sh            # from the repository root; DATA=... to point at CoLA's raw TSVs
#
# Budget, to fit 40 runs on 2 CPU cores: the quick recipe's settings (all-MiniLM-L6-v2, lr 1e-4, batch 32,
# length-grouped) for 2 epochs instead of 10, one evaluation at the end (no best-epoch pick on the dev set).
# all-MiniLM-L6-v2 has 8 layer groups: embeddings, layer_00..05, pooler. Half = 4, most = 6 (the top encoder
# layer, the pooler and the classifier still train).
set -euo pipefail
DATA=${DATA:-${COLA_DATA_DIR:-../shared/cola/raw}}
OUT=${OUT:-outputs/grid}
export HF_HUB_OFFLINE=1
common=(--recipe recipes/quick.json --data_dir "$DATA" --num_train_epochs 2 --eval_strategy no --save_strategy no
        --load_best_model_at_end false --seeds 1 2 3 4 5 --resume_from_checkpoint last)

run() {  # run NAME [train.py options]
  local name=$1; shift
  python train.py "${common[@]}" --output_dir "$OUT/$name" "$@"
}

for freeze in 0 4 6; do
  run "freeze${freeze}_cw" --freeze "$freeze"
  run "freeze${freeze}_nocw" --freeze "$freeze" --no-class-weights
done
run freeze0_cw_llrd0.8 --freeze 0 --layer_lr_decay 0.8
run freeze0_cw_gradual30 --freeze 0 --gradual_unfreeze_steps 30

python -m cola.experiments.compare "$OUT"/freeze{0,4,6}_{cw,nocw} "$OUT"/freeze0_cw_llrd0.8 "$OUT"/freeze0_cw_gradual30 --out docs/grid
