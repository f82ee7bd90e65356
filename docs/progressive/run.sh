#!/usr/bin/env bash
# Progressive freezing against full fine-tuning and the static half (issue 31): 5 fresh seeds of each row, seed by
# seed (every row of a seed before the next seed, so a stopped run still leaves paired rows), each row a sweep of
# seeds that grows by one seed per round and keeps the seeds it finished (`--resume_from_checkpoint last`). Run it
# alone on the machine: the training times are measured. It continues where it stopped; after each round it rewrites
# the comparison report (report_<size>/: MCC median and IQR, paired differences against full fine-tuning with 95%
# bootstrap intervals, training time, the floor over the steps).
#
#   time bash docs/progressive/run.sh base      # all-mpnet-base-v2, 2 epochs (the base grid's settings); needs the base wheels
#   time bash docs/progressive/run.sh minilm    # all-MiniLM-L6-v2, 3 epochs
#
# Each run's results.json holds its training time (train.runtime_s: every cache fill and growth happens inside
# training), its step times by tenth of the run (train.step_seconds) and, for the rising floors, every event;
# wall.tsv beside the runs holds each call's whole wall time (loading, training, the final evaluation).
# A same-machine check of the times (the rows of one size ran in different sessions, on machines that may differ):
#   OUT=outputs/progressive_base_check SEEDS="31 33" ONLY="full auto_late" REPORT=docs/progressive/report_base_check \
#     bash docs/progressive/run.sh base
# To run a seed's row again, delete its folder (say $OUT/full/seed_31) and run the script: the last call's time counts.
# To have the machine for something else without spoiling a timing: `touch $OUT/PAUSE` holds the script before its
# next run (the one running finishes), `rm $OUT/PAUSE` lets it go on.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE=${1:?say base or minilm}
DATA=${DATA:-${COLA_DATA_DIR:-../shared/cola/raw}}
OUT=${OUT:-outputs/progressive_$SIZE}
SEEDS=${SEEDS:-31 32 33 34 35}
ONLY=${ONLY:-}  # some rows only, by name ("full auto_late"); the report then compares those
export HF_HUB_OFFLINE=1
case $SIZE in
  base)   model=all-mpnet-base-v2; epochs=2; half=7 ;;   # 14 groups: embeddings, 12 layers, pooler
  minilm) model=all-MiniLM-L6-v2; epochs=3; half=4 ;;    # 8 groups: embeddings, 6 layers, pooler
  *) echo "say base or minilm" >&2; exit 2 ;;
esac
common=(--model_name_or_path "$model" --data_dir "$DATA" --max_length 64 --num_train_epochs "$epochs"
        --per_device_train_batch_size 32 --learning_rate 5e-5 --warmup_steps 0.1 --eval_strategy no --save_strategy no
        --load_best_model_at_end false --logging_steps 10 --resume_from_checkpoint last --disable_tqdm true)
# name: the options that make the row (after the common ones). auto_late (added after the 5 base seeds of the
# others): decisions start after the first epoch (268 optimizer steps of batch 32 over CoLA's 8,551 sentences),
# once CoLA's loss plateau is over, with auto_tol's bound.
rows=(
  "full:--freeze 0"
  "auto:--progressive_freeze auto"
  "auto_tol:--progressive_freeze auto --progressive_freeze_tolerance 0.1"
  "linear:--progressive_freeze linear"
  "auto_late:--progressive_freeze auto --progressive_freeze_tolerance 0.1 --progressive_freeze_start 268"
  "half:--freeze $half"
)
for name in $ONLY; do
  if ! printf '%s\n' "${rows[@]}" | grep -q "^$name:"; then echo "ONLY: no row named $name" >&2; exit 2; fi
done
sweep() {  # $1: the row's name, then its options: the sweep over every seed so far (trains only what is missing)
  local name=$1; shift
  python train.py "${common[@]}" "$@" --seeds "${done_seeds[@]}" --output_dir "$OUT/$name"
}
mkdir -p "$OUT"
done_seeds=()
for seed in $SEEDS; do
  done_seeds+=("$seed")
  for row in "${rows[@]}"; do
    name=${row%%:*}
    if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
    read -ra options <<< "${row#*:}"
    if [ -f "$OUT/$name/seed_$seed/results.json" ]; then
      # Trained. The sweep's summary lists it unless a rerun of an earlier seed (its folder deleted) rewrote the
      # summary for that seed alone: then the sweep is called again, which trains nothing and lists every seed.
      if ! grep -qs "\"seed_$seed\"" "$OUT/$name/results.json"; then sweep "$name" "${options[@]}"; fi
      continue
    fi
    while [ -e "$OUT/PAUSE" ]; do sleep 5; done
    start=$SECONDS
    sweep "$name" "${options[@]}"
    printf '%s\t%s\t%d\n' "$name" "$seed" "$((SECONDS - start))" >> "$OUT/wall.tsv"
  done
  runs=()
  for row in "${rows[@]}"; do [ -d "$OUT/${row%%:*}" ] && runs+=("$OUT/${row%%:*}"); done
  python -m cola.experiments.compare "${runs[@]}" --out "${REPORT:-docs/progressive/report_$SIZE}" || echo "the report failed" >&2
done
