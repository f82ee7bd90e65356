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


@reports_errors
def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        config = parse_args(argv)
        return run_seeds(config, run) if config.training.seeds else run(config)
    except KeyboardInterrupt:
        raise CliError("interrupted; no results.json was written (continue with --resume_from_checkpoint last "
                       "if a checkpoint was saved)", exit_code=130) from None


def run(config: RunConfig) -> int:
    """One training run, from the resolved configuration to results.json."""
    # Imported here, not at the top: `--help` and a mistyped option answer in about 4 s instead of 10 (measured
    # with `time python train.py --help`); the Trainer, scikit-learn and datasets make up the difference.
    import transformers
    from transformers import set_seed

    from cola.checkpoints import check_same_run, reapply_freeze, resolve_checkpoint
    from cola.class_weights import class_weights_for
    from cola.columns import LABEL
    from cola.data import load_data, tokenize
    from cola.freezing import freeze_bottom
    from cola.model import check_max_length, load_model_and_tokenizer, supported_layer_groups
    from cola.model_card import model_card, write_model_card
    from cola.output_dir import claim_output_dir
    from cola.predict import predict_test_split
    from cola.recipes import resolved_config, write_resolved_config
    from cola.results import build_results, log_results, log_start_summary, write_results
    from cola.tracking import finish_wandb_run
    from cola.trainer import build_trainer, check_trained

    args = config.training
    logging.getLogger().setLevel(logging.INFO if args.should_log else logging.WARNING)  # one process speaks
    transformers.logging.set_verbosity_warning()

    # --- where to write, and where to continue from: checked before any expensive work ---
    resuming = args.resume_from_checkpoint is not None
    with claim_output_dir(args.output_dir, resuming=resuming, overwrite=args.overwrite_run, is_main=args.process_index == 0,
                          reads=config.read_folders()):
        checkpoint = resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)
        if checkpoint:
            reapply_freeze(checkpoint, args, freeze_given="freeze" in config.explicit)
        resolved = resolved_config(config)  # after the checkpoint's freeze setting is adopted: it is part of it
        if checkpoint:
            check_same_run(checkpoint, resolved)

        # --- data (read and checked before any model is loaded), seed, model, class weights ---
        raw = load_data(config.data, seed=args.seed)
        set_seed(args.seed)  # before loading: the classification head is initialised here
        model, tokenizer = load_model_and_tokenizer(config.model.model_name_or_path, label_names=raw.label_names,
                                                    trust_remote_code=config.model.trust_remote_code)
        check_max_length(model, config.data.max_length)
        data = tokenize(raw, tokenizer, config.data.max_length)
        class_weights = class_weights_for(data.train[LABEL], enabled=args.class_weights,
                                          values=args.class_weight_values, num_labels=len(data.label_names))

        # --- freeze: before the Trainer builds the optimizer, which only receives requires_grad parameters ---
        layer_groups = supported_layer_groups(model, config.model.model_name_or_path)
        try:
            freeze_bottom(layer_groups, args.freeze, method=args.freeze_method)
        except ValueError as error:
            raise CliError(f"--freeze {error}") from None
        log_start_summary(model_name=config.model.model_name_or_path, model=model, data=data,
                          class_weights=class_weights, layer_groups=layer_groups)

        # --- train, evaluate, save ---
        trainer = build_trainer(config, model=model, tokenizer=tokenizer, data=data, class_weights=class_weights,
                                layer_groups=layer_groups)
        if trainer.is_world_process_zero() and not checkpoint:
            # Now, so a crashed run's folder says how it was started; a resumed run's is rewritten only when it ends.
            write_resolved_config(resolved, args.output_dir)
        train_output = trainer.train(resume_from_checkpoint=checkpoint)
        check_trained(trainer.state, train_output.training_loss, model)
        eval_metrics = trainer.evaluate()
        test_metrics = predict_test_split(trainer, data, args.output_dir) if data.test is not None else None
        if trainer.is_world_process_zero():
            results = build_results(
                eval_metrics=eval_metrics, test_metrics=test_metrics, data=data, train_output=train_output,
                trainer_state=trainer.state,
                class_weights=class_weights, layer_groups=layer_groups, param_groups=trainer.param_group_table,
                unfreeze_after_steps=trainer.unfreeze_schedule, frozen_cache=trainer.frozen_cache_summary,
                model=model, training_args=args, config=resolved,
            )
            # Before saving: with --push_to_hub, save_model uploads the folder with this card (ColaTrainer).
            trainer.model_card = model_card(results, argv=config.argv, output_dir=args.output_dir)
        trainer.save_model()
        if trainer.is_world_process_zero():
            write_model_card(trainer.model_card, args.output_dir)
            write_resolved_config(resolved, args.output_dir)  # the run that wrote results.json, as it was configured
            log_results(results, write_results(results, args.output_dir))
    finish_wandb_run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
