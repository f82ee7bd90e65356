#!/usr/bin/env bash
# CoLA as "your own data", at full scale: the quick recipe (seed 42) on the CoLA path and on CoLA exported to CSV
# with string labels (docs/own_data/export_cola.py), then every evaluation figure of the two runs side by side
# (docs/own_data/same_metrics.txt, by same_metrics.py) and the comparison report (docs/own_data/report/).
# Each run replaces its own earlier one (--overwrite_run). About 15 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d outputs/cola_export ] || python docs/own_data/export_cola.py --data_dir ../shared/cola/raw --out outputs/cola_export
python train.py --recipe recipes/quick.json --data_dir ../shared/cola/raw --output_dir outputs/own_data/cola --overwrite_run --disable_tqdm true
python train.py --recipe recipes/quick.json --train_file outputs/cola_export/train.csv --validation_file outputs/cola_export/dev.csv --label_column judgment --group_column domain --class_names unacceptable acceptable --output_dir outputs/own_data/csv --overwrite_run --disable_tqdm true
python docs/own_data/same_metrics.py outputs/own_data/cola outputs/own_data/csv | tee docs/own_data/same_metrics.txt
python -m cola.experiments.compare outputs/own_data/cola outputs/own_data/csv --out docs/own_data/report
