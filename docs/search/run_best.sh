#!/usr/bin/env bash
# The search's choice, run fresh: recipes/best_offline.json (re-derived from docs/search/offline/best_recipe.json)
# with 5 seeds the search never used (11-15), then its report in docs/search/best/. Continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
python train.py --recipe recipes/best_offline.json --data_dir ../shared/cola/raw --seeds 11 12 13 14 15 --output_dir outputs/search_best --resume_from_checkpoint last
python -m cola.experiments.compare outputs/search_best --out docs/search/best
