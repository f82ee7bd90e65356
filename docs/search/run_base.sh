#!/usr/bin/env bash
# The base-size search (docs/search/README.md, "At base size"): one Optuna study on all-mpnet-base-v2, continued by
# each call of this script. --timeout starts no new trial after an hour; the trial under way
# (2 seeds: about 6 minutes for 1 epoch above the frozen half, up to about 16 for 2 epochs with 4 layers frozen)
# finishes. --trials 20 is the study's target over all calls. Seeds 1 and 2 only: the recipe it picks is confirmed
# on 5 fresh seeds by docs/search/run_best_base.sh. Run alone: the training times are measured.
# Trial folders (final models) stay in docs/search/base/trial_*, which git ignores; the study (search.db),
# trials.json, report.md/png and best_recipe.json are committed. Needs the base model's wheels fetched (README: requirements-base.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."
export HF_HUB_OFFLINE=1
python -m cola.experiments.search --recipe recipes/half_base.json --space recipes/search/base.json --study base --output_dir docs/search/base --trials 20 --seeds 1 2 --startup_trials 5 --timeout 3600 --data_dir ../shared/cola/raw
