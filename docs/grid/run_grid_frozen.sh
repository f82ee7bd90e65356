#!/usr/bin/env bash
# The grid's frozen rows again, with issue 12's defaults: frozen groups in eval mode and cached (run once before
# training). Same settings as run_grid.sh otherwise (quick recipe, 2 epochs, 5 seeds, one evaluation at the end).
# The freeze-0 rows are not re-run: with nothing frozen, eval mode and the cache change nothing.
#
#   time bash docs/grid/run_grid_frozen.sh     # from the repository root; DATA=... to point at CoLA's raw TSVs
set -euo pipefail
DATA=${DATA:-${COLA_DATA_DIR:-../shared/cola/raw}}
OUT=${OUT:-outputs/grid_frozen}
export HF_HUB_OFFLINE=1
common=(--recipe recipes/quick.json --data_dir "$DATA" --num_train_epochs 2 --eval_strategy no --save_strategy no
        --load_best_model_at_end false --seeds 1 2 3 4 5 --resume_from_checkpoint last --disable_tqdm true)

for freeze in 4 6; do
  python train.py "${common[@]}" --output_dir "$OUT/freeze${freeze}_cw" --freeze "$freeze"
  python train.py "${common[@]}" --output_dir "$OUT/freeze${freeze}_nocw" --freeze "$freeze" --no-class-weights
done

# Same-machine control for the times (run_grid.sh ran on another CPU): the behaviour before issue 12, dropout on in
# the frozen layers and so nothing cached, seed 1 of each row.
for freeze in 4 6; do
  python train.py "${common[@]}" --output_dir "$OUT/control/freeze${freeze}_cw" --freeze "$freeze" --seeds 1 --no-frozen-eval-mode
  python train.py "${common[@]}" --output_dir "$OUT/control/freeze${freeze}_nocw" --freeze "$freeze" --seeds 1 \
    --no-frozen-eval-mode --no-class-weights
done

python -m cola.experiments.compare "$OUT"/freeze{4,6}_{cw,nocw} --out docs/grid/frozen_cached
python docs/grid/before_after.py docs/grid/report.json "$OUT" > docs/grid/frozen_cached/before_after.md
