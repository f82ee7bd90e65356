"""Fine-tune a BERT-family encoder on CoLA (grammatical acceptability), or on your own sentence(-pair)
classification data, with the Hugging Face Trainer.

Run book:

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
    torchrun --nproc_per_node 2 train.py --use_cpu --recipe recipes/quick.json --data_dir ../shared/cola/raw

    # five seeds in one call: output_dir/seed_N per run, and the median/spread in output_dir/results.json
    python train.py --recipe recipes/quick.json --seeds 1 2 3 4 5 --output_dir outputs/quick5

    # continue an interrupted run (or sweep of seeds), or replace a finished one in the same folder (a folder that
    # holds a run is refused otherwise); log to Weights & Biases (offline when there are no credentials)
    python train.py --recipe recipes/quick.json --resume_from_checkpoint last
    python train.py --recipe recipes/quick.json --overwrite_run
    python train.py --recipe recipes/quick.json --report_to wandb

    # compare runs (single or multi-seed): report.md, report.png, report.json; time train.py against the baselines
    python -m cola.experiments.compare outputs/quick5 outputs/try --out outputs/report
    python -m cola.experiments.bench --data_dir ../shared/cola/raw

    # your own data: CSV/TSV/JSON Lines/Parquet files, or a Hub dataset (columns and classes: see --help, "data")
    python train.py --recipe recipes/quick.json --train_file train.csv --validation_file dev.csv --text_column text
    python train.py --dataset_name nyu-mll/glue --dataset_config_name sst2 --model_name_or_path all-MiniLM-L6-v2

    # classify sentences with the result
    python -m cola.predict outputs/quick "The book was written by John."

    python train.py --help        # every option, with its default

Writes to --output_dir: the fine-tuned model and tokenizer (safetensors, with the class names; load with
`transformers.pipeline("text-classification", model=OUTPUT_DIR)`), README.md (the model card), run_config.json
(every option's final value, itself a valid recipe), results.json (metrics, class weights, layer and parameter
groups) and, with a test split, test_predictions.csv.
"""

from __future__ import annotations

import logging
import sys

from cola.config import RunConfig
from cola.errors import CliError, reports_errors
from cola.experiments.seeds import run_seeds
from cola.recipes import parse_args
from cola.redact import redact_argv


@reports_errors
def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        config = parse_args(argv)
        if argv is None:  # W&B records the process's command line: from here on it holds no credential
            sys.argv[1:] = redact_argv(sys.argv[1:])
        return run_seeds(config, run) if config.training.seeds else run(config)
    except KeyboardInterrupt:
        raise CliError("interrupted; no results.json was written (continue with --resume_from_checkpoint last "
                       "if a checkpoint was saved)", exit_code=130) from None


def run(config: RunConfig) -> int:
    """One training run: claim the folder, build, train, evaluate, report."""
    # Imported here, not at the top: `--help` and a mistyped option answer in about 4 s instead of 10 (measured
    # with `time python train.py --help`); the Trainer, scikit-learn and datasets make up the difference.
    import transformers

    from cola.model_card import model_card, write_model_card
    from cola.output_dir import claim_output_dir
    from cola.predict import predict_test_split
    from cola.recipes import write_resolved_config
    from cola.results import build_results, log_results, write_results
    from cola.run import build_run
    from cola.tracking import finish_wandb_run
    from cola.trainer import check_trained, final_evaluation

    args = config.training
    logging.getLogger().setLevel(logging.INFO if args.should_log else logging.WARNING)  # one process speaks
    transformers.logging.set_verbosity_warning()
    main_process = args.process_index == 0

    with claim_output_dir(args.output_dir, resuming=args.resume_from_checkpoint is not None,
                          overwrite=args.overwrite_run, is_main=main_process, reads=config.read_folders()):
        run = build_run(config)
        trainer = run.trainer
        if main_process and not run.checkpoint:
            # Now, so a crashed run's folder says how it was started; a resumed run's is rewritten only when it ends.
            write_resolved_config(run.resolved, args.output_dir)

        train_output = trainer.train(resume_from_checkpoint=run.checkpoint)
        check_trained(trainer.state, train_output.training_loss, run.model)
        # The trained model goes to disk before anything that can still fail (the final evaluation, the test split,
        # the reports): a crash there loses no training. _internal_call: not uploaded yet (--push_to_hub uploads
        # the folder once, below, with its card and results).
        trainer.save_model(_internal_call=True)
        eval_metrics = final_evaluation(trainer)
        test_metrics = predict_test_split(trainer, run.data, args.output_dir) if run.data.test is not None else None

        if main_process:
            results = build_results(trainer.report, eval_metrics=eval_metrics, test_metrics=test_metrics, data=run.data,
                                    train_output=train_output, trainer_state=trainer.state, config=run.resolved)
            # push_to_hub writes this card into the folder it uploads (ColaTrainer.create_model_card).
            trainer.model_card = model_card(results, argv=config.argv, output_dir=args.output_dir)
            write_model_card(trainer.model_card, args.output_dir)
            write_resolved_config(run.resolved, args.output_dir)  # the run that wrote results.json, as it was configured
            log_results(results, write_results(results, args.output_dir))
        if args.push_to_hub:
            trainer.push_to_hub(commit_message="Model save", revision=args.hub_revision)
    finish_wandb_run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
