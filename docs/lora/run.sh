#!/usr/bin/env bash
# LoRA side by side with freezing (docs/lora/README.md): which parameters should train, on the packaged
# all-MiniLM-L6-v2 (6 layers) and the 12-layer all-mpnet-base-v2. Rows: full fine-tuning, the frozen and cached
# half (the embeddings and half the layers), LoRA rank 8 on the attention's query and value of every layer, LoRA
# rank 8 above the frozen, cached half, then LoRA of ranks 2 and 32 in every layer (alpha stays 8, as Hu et al.
# keep alpha fixed across ranks); 3 seeds each. On MiniLM, where the ranks tie well below full fine-tuning, one
# more row asks whether what is adapted limits it: rank 8 on every linear layer (`all-linear`). Budgets: MiniLM
# 3 epochs; base 1 epoch, as the base-size grid (docs/grid_base), whose full and half rows
# (outputs/grid_base/freeze0, freeze7: run docs/grid_base/run_grid.sh first) are the base model's first two rows.
# Full fine-tuning and freezing train at lr 5e-5, LoRA at 5e-4 (adapters start at zero and need the larger rate:
# Hu et al. use 4e-4 to 5e-4 on GLUE).
# Then the benchmark's LoRA rows beside the cached half, step time and peak memory, on each model.
# Run alone: times are measured. It continues where it stopped (finished seeds are kept).
#
#   bash docs/lora/run.sh              # everything; needs the base model's wheels fetched (README: requirements-base.txt); DATA=... for CoLA's raw TSVs
#   bash docs/lora/run.sh minilm       # one part: minilm, base, bench (both models), bench_minilm or bench_base
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-${COLA_DATA_DIR:-../shared/cola/raw}}
OUT=${OUT:-outputs/lora}
SEEDS=${SEEDS:-1 2 3}
export HF_HUB_OFFLINE=1
run=(--data_dir "$DATA" --max_length 64 --per_device_train_batch_size 32 --warmup_steps 0.1 --eval_strategy no
     --save_strategy no --load_best_model_at_end false --seeds $SEEDS --resume_from_checkpoint last --disable_tqdm true)
mini=(--model_name_or_path all-MiniLM-L6-v2 --num_train_epochs 3 "${run[@]}")
base=(--model_name_or_path all-mpnet-base-v2 --num_train_epochs 1 "${run[@]}")

part=${1:-all}
case $part in all|base|minilm|bench|bench_minilm|bench_base) ;;
  *) echo "run.sh: unknown part '$part' (all, base, minilm, bench, bench_minilm or bench_base)" >&2; exit 2 ;;
esac
if [[ $part == all || $part == base ]]; then
python train.py "${base[@]}" --output_dir "$OUT/base/lora_r8" --freeze 0 --lora_r 8 --learning_rate 5e-4
python train.py "${base[@]}" --output_dir "$OUT/base/lora_r8_above_half" --freeze 7 --lora_r 8 --learning_rate 5e-4
python train.py "${base[@]}" --output_dir "$OUT/base/lora_r2" --freeze 0 --lora_r 2 --learning_rate 5e-4
python train.py "${base[@]}" --output_dir "$OUT/base/lora_r32" --freeze 0 --lora_r 32 --learning_rate 5e-4
python -m cola.experiments.compare outputs/grid_base/freeze0 outputs/grid_base/freeze7 outputs/lora/base/lora_r2 outputs/lora/base/lora_r8 outputs/lora/base/lora_r32 outputs/lora/base/lora_r8_above_half --out docs/lora/base
fi

if [[ $part == all || $part == minilm ]]; then
python train.py "${mini[@]}" --output_dir "$OUT/minilm/full" --freeze 0 --learning_rate 5e-5
python train.py "${mini[@]}" --output_dir "$OUT/minilm/half_cached" --freeze 4 --learning_rate 5e-5
python train.py "${mini[@]}" --output_dir "$OUT/minilm/lora_r8" --freeze 0 --lora_r 8 --learning_rate 5e-4
python train.py "${mini[@]}" --output_dir "$OUT/minilm/lora_r8_above_half" --freeze 4 --lora_r 8 --learning_rate 5e-4
python train.py "${mini[@]}" --output_dir "$OUT/minilm/lora_r2" --freeze 0 --lora_r 2 --learning_rate 5e-4
python train.py "${mini[@]}" --output_dir "$OUT/minilm/lora_r32" --freeze 0 --lora_r 32 --learning_rate 5e-4
python train.py "${mini[@]}" --output_dir "$OUT/minilm/lora_r8_all_linear" --freeze 0 --lora_r 8 --lora_target_modules all-linear --learning_rate 5e-4
python -m cola.experiments.compare outputs/lora/minilm/full outputs/lora/minilm/half_cached outputs/lora/minilm/lora_r2 outputs/lora/minilm/lora_r8 outputs/lora/minilm/lora_r32 outputs/lora/minilm/lora_r8_above_half outputs/lora/minilm/lora_r8_all_linear --out docs/lora/minilm
fi

if [[ $part == all || $part == bench || $part == bench_minilm ]]; then
python -m cola.experiments.bench --data_dir "$DATA" --rows suite suite_freeze_cached suite_lora suite_lora_half_cached --samples 512 --repeats 3 --out docs/lora/bench_minilm.json | tee docs/lora/bench_minilm.log
fi
if [[ $part == all || $part == bench || $part == bench_base ]]; then
python -m cola.experiments.bench --model all-mpnet-base-v2 --data_dir "$DATA" --rows suite suite_freeze_cached suite_lora suite_lora_half_cached --samples 256 --repeats 2 --out docs/lora/bench_base.json | tee docs/lora/bench_base.log
fi
