#!/usr/bin/env bash
# The offline model's search (docs/search/README.md): one Optuna study, continued by each call of this script.
# Each call runs at most about an hour: --timeout starts no new trial after 45 minutes, and the trial under way
# (3 seeds: about 7 minutes for 3 epochs above frozen layers, up to about 30 for 6 epochs of full fine-tuning) finishes. --trials 20 is the study's target over all calls.
# Trial folders (models, checkpoints) stay in docs/search/offline/trial_*, which git ignores; the study
# (search.db), trials.json, report.md/png and best_recipe.json are committed.
set -euo pipefail
cd "$(dirname "$0")/../.."
python -m cola.experiments.search --recipe recipes/best_offline.json --space recipes/search/offline.json --study offline --output_dir docs/search/offline --trials 20 --seeds 1 2 3 --startup_trials 4 --timeout 2700 --data_dir ../shared/cola/raw
