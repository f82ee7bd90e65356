#!/usr/bin/env bash
# The base-size search's choice, run fresh: recipes/best_base.json (docs/search/base/best_recipe.json without its
# data_dir and output_dir) on 5 seeds the search never used (11-15), then its report in docs/search/best_base/.
# Run alone: the training times are the time-to-quality line's (docs/bench_base/README.md). Continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1
python train.py --recipe recipes/best_base.json --data_dir ../shared/cola/raw --seeds 11 12 13 14 15 --output_dir outputs/search_best_base --resume_from_checkpoint last
python -m cola.experiments.compare outputs/search_best_base --out docs/search/best_base
