#!/usr/bin/env bash
# The bench at base size: all-mpnet-base-v2 (12 layers, 768 wide), each row built by train.py's own builder.
# Rows: full fine-tuning, the notebook's half frozen (embeddings + 6 of 12 layers) uncached and cached, and the deep
# freeze (embeddings + 11 of 12 layers) cached. Run alone on the machine: the rows are timed.
#   bash docs/bench_base/run.sh            (needs: the base model's wheels fetched (README: requirements-base.txt))
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA_DIR="${COLA_DATA_DIR:-../shared/cola/raw}"
python -m cola.experiments.bench --model all-mpnet-base-v2 --data_dir "$DATA_DIR" --rows suite suite_freeze suite_freeze_cached suite_deep_freeze_cached --samples 320 --repeats 3 --out docs/bench_base/bench.json | tee docs/bench_base/bench.log
