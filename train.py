"""Fine-tune a BERT-family encoder on CoLA (grammatical acceptability), or on your own sentence(-pair)
classification data, with the Hugging Face Trainer.

Run book:

    # where CoLA's raw TSVs are (without it, and without --data_dir, train.py downloads them once)
    export COLA_DATA_DIR=../shared/cola/raw

    # first run: offline, CPU, a few minutes (the packaged all-MiniLM-L6-v2); the best offline recipe found
    python train.py --recipe recipes/quick.json --data_dir ../shared/cola/raw
    python train.py --recipe recipes/best_offline.json --data_dir ../shared/cola/raw

    # the notebook's grid on bert-base-uncased (needs the Hub or a local copy)
    accelerate launch train.py --recipe recipes/full_cw.json
    python train.py --freeze 6 --no-class-weights

    # any recipe, with flags overriding it
    python train.py --recipe recipes/quick.json --learning_rate 5e-5 --output_dir outputs/try

    # several processes: GPUs with the repository's accelerate config, or CPUs with torchrun (gloo)
    accelerate launch --config_file accelerate_config.yaml train.py --recipe recipes/full_cw.json
    torchrun --nproc_per_node 2 train.py --use_cpu --recipe recipes/quick.json --output_dir outputs/quick_ddp

    # five seeds in one call: output_dir/seed_N per run, and the median/spread in output_dir/results.json
    python train.py --recipe recipes/quick.json --seeds 1 2 3 4 5 --output_dir outputs/quick5

    # continue an interrupted run (or sweep of seeds), or replace a finished one in the same folder (a folder that
    # holds a run is refused otherwise); log to Weights & Biases (offline when there are no credentials)
    python train.py --recipe recipes/quick.json --resume_from_checkpoint last
    python train.py --recipe recipes/quick.json --overwrite_run
    python train.py --recipe recipes/quick.json --report_to wandb --output_dir outputs/quick_wandb

    # compare runs (single or multi-seed): report.md, report.png, report.json; time train.py against the baselines
    python -m cola.experiments.compare outputs/quick5 outputs/try --out outputs/report
    python -m cola.experiments.bench --data_dir ../shared/cola/raw

    # your own data: CSV/TSV/JSON Lines/Parquet files, or a Hub dataset (columns and classes: see --help, "data")
    python train.py --recipe recipes/quick.json --train_file train.csv --validation_file dev.csv --output_dir outputs/own
    python train.py --dataset_name nyu-mll/glue --dataset_config_name sst2 --model_name_or_path all-MiniLM-L6-v2

    # classify sentences with the result
    python -m cola.predict outputs/quick "The book was written by John."

    python train.py --help        # every option, with its default
    python -m cola --help         # the same command, from the installed package

Writes to --output_dir: the fine-tuned model and tokenizer (safetensors, with the class names; load with
`transformers.pipeline("text-classification", model=OUTPUT_DIR)`), README.md (the model card), run_config.json
(every option's final value, itself a valid recipe), results.json (metrics, class weights, layer and parameter
groups) and, with a test split, test_predictions.csv.
"""

import sys

from cola.cli import main  # parse, then one run (cola.run.train_and_report) or a sweep of seeds

if __name__ == "__main__":
    sys.exit(main())
