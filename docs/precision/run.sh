#!/usr/bin/env bash
# Does bf16 cost MCC at base size? The rows the fp32 figures were committed for, trained again in bf16 with
# nothing else changed: the base grid's full fine-tuning and frozen half (1 epoch, seeds 1-3, the grid's settings;
# fp32: docs/grid_base/report) and recipes/best_base.json on the 5 fresh seeds it was confirmed on (fp32:
# docs/search/best_base). table.py sets the two side by side in docs/precision/README.md's table. Run alone (the
# times are measured); it continues where it stopped (finished seeds are kept).
#
#   bash docs/precision/run.sh            # needs the base model's wheels fetched (README: requirements-base.txt)
#   bash docs/precision/run.sh grid       # or one part: grid, best_base, bench_minilm, bench_base
#
# The bench parts time the same rows in the precision `auto` picks here and in fp32, side by side in one
# interleaved call per model, with the plain Trainer as it comes and as a user who knows its flags sets it (peer:
# length-grouped batches, auto's precision); docs/precision/bench_*.json and .log.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-${COLA_DATA_DIR:-../shared/cola/raw}}
OUT=${OUT:-outputs/precision}
export HF_HUB_OFFLINE=1
part=${1:-all}
case "$part" in all|grid|best_base|bench_minilm|bench_base) ;;
  *) echo "error: unknown part '$part' (grid, best_base, bench_minilm, bench_base or all)" >&2; exit 2;; esac
# docs/grid_base/run_grid.sh's common options, and bf16
grid=(--model_name_or_path all-mpnet-base-v2 --data_dir "$DATA" --max_length 64 --num_train_epochs 1
      --per_device_train_batch_size 32 --learning_rate 5e-5 --warmup_steps 0.1 --eval_strategy no --save_strategy no
      --load_best_model_at_end false --seeds 1 2 3 --resume_from_checkpoint last --disable_tqdm true --precision bf16)
if [ "$part" = all ] || [ "$part" = grid ]; then
  python train.py "${grid[@]}" --freeze 0 --output_dir "$OUT/freeze0_bf16"
  python train.py "${grid[@]}" --freeze 7 --output_dir "$OUT/freeze7_bf16"
fi
if [ "$part" = all ] || [ "$part" = best_base ]; then
  python train.py --recipe recipes/best_base.json --data_dir "$DATA" --seeds 11 12 13 14 15 --precision bf16 \
      --output_dir "$OUT/best_base_bf16" --resume_from_checkpoint last --disable_tqdm true
fi
if [ "$part" = all ] || [ "$part" = bench_minilm ]; then
  python -m cola.experiments.bench --data_dir "$DATA" --rows trainer peer suite suite_fp32 suite_freeze_cached suite_freeze_cached_fp32 --repeats 3 --out docs/precision/bench_minilm.json | tee docs/precision/bench_minilm.log
fi
if [ "$part" = all ] || [ "$part" = bench_base ]; then
  python -m cola.experiments.bench --data_dir "$DATA" --model all-mpnet-base-v2 --rows trainer peer suite suite_fp32 suite_freeze_cached suite_freeze_cached_fp32 --repeats 2 --samples 256 --out docs/precision/bench_base.json | tee docs/precision/bench_base.log
fi
case "$part" in all|grid|best_base) python docs/precision/table.py "$OUT";; esac
