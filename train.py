"""Fine-tune a BERT-family encoder on CoLA (grammatical acceptability) with the Hugging Face Trainer.

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

    # classify sentences with the result
    python -m cola.predict outputs/quick "The book was written by John."

    python train.py --help        # every option, with its default

Writes to --output_dir: the fine-tuned model and tokenizer (safetensors; load with
`transformers.pipeline("text-classification", model=OUTPUT_DIR)`), run_config.json (every option's final
value, itself a valid recipe) and results.json (metrics, class weights, layer and parameter groups).
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
    from cola.data import LABEL_NAMES, load_cola, tokenize
    from cola.freezing import freeze_bottom
    from cola.model import check_max_length, load_model_and_tokenizer, supported_layer_groups
    from cola.output_dir import claim_output_dir
    from cola.recipes import resolved_config, write_resolved_config
    from cola.results import build_results, log_results, log_start_summary, write_results
    from cola.tracking import finish_wandb_run
    from cola.trainer import build_trainer, check_trained

    args = config.training
    logging.getLogger().setLevel(logging.INFO if args.should_log else logging.WARNING)  # one process speaks
    transformers.logging.set_verbosity_warning()

    # --- where to write, and where to continue from: checked before any expensive work ---
    resuming = args.resume_from_checkpoint is not None
    with claim_output_dir(args.output_dir, resuming=resuming, overwrite=args.overwrite_run, is_main=args.process_index == 0):
        checkpoint = resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)
        if checkpoint:
            reapply_freeze(checkpoint, args, freeze_given="freeze" in config.explicit)
        resolved = resolved_config(config)  # after the checkpoint's freeze setting is adopted: it is part of it
        if checkpoint:
            check_same_run(checkpoint, resolved)

        # --- seed, model, data, class weights ---
        set_seed(args.seed)  # before loading: the classification head is initialised here
        model, tokenizer = load_model_and_tokenizer(config.model.model_name_or_path,
                                                    trust_remote_code=config.model.trust_remote_code)
        check_max_length(model, config.data.max_length)
        data = tokenize(load_cola(config.data, seed=args.seed), tokenizer, config.data.max_length)
        class_weights = class_weights_for(data.train["labels"], enabled=args.class_weights,
                                          values=args.class_weight_values, num_labels=len(LABEL_NAMES))

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
        trainer.save_model()
        if trainer.is_world_process_zero():
            results = build_results(
                eval_metrics=eval_metrics, train_output=train_output, trainer_state=trainer.state,
                class_weights=class_weights, layer_groups=layer_groups, param_groups=trainer.param_group_table,
                unfreeze_after_steps=trainer.unfreeze_schedule, frozen_cache=trainer.frozen_cache_summary,
                model=model, training_args=args, config=resolved,
            )
            write_resolved_config(resolved, args.output_dir)  # the run that wrote results.json, as it was configured
            log_results(results, write_results(results, args.output_dir))
    finish_wandb_run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
