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

    # continue an interrupted run (or sweep of seeds); log to Weights & Biases (offline when there are no credentials)
    python train.py --recipe recipes/quick.json --resume_from_checkpoint last
    python train.py --recipe recipes/quick.json --report_to wandb

    # classify sentences with the result
    python -m cola.predict outputs/quick "The book was written by John."

    python train.py --help        # every option, with its default

Writes to --output_dir: the fine-tuned model and tokenizer (safetensors; load with
`transformers.pipeline("text-classification", model=OUTPUT_DIR)`), run_config.json (every option's final
value, itself a valid recipe) and results.json (metrics, class weights, layer and parameter groups).
"""

from __future__ import annotations

import functools
import logging
import sys

from cola.errors import CliError


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        from cola.config import parse_args
        from cola.seeds import run_seeds

        config = parse_args(argv)
        return run_seeds(config, run) if config.training.seeds else run(config)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(
            "error: interrupted; no results.json was written (continue with --resume_from_checkpoint last "
            "if a checkpoint was saved)",
            file=sys.stderr,
        )
        return 130


def run(config) -> int:
    import transformers
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, set_seed

    from cola.checkpoints import SaveSuiteState, reapply_freeze, resolve_checkpoint
    from cola.class_weights import class_weights_for
    from cola.config import resolved_config, write_resolved_config
    from cola.data import LABEL_NAMES, load_cola, tokenize
    from cola.freezing import find_layer_groups, freeze_bottom, layer_group_table
    from cola.metrics import build_compute_metrics, check_metric_for_best_model
    from cola.model import load_model_and_tokenizer
    from cola.results import count_parameters, ensure_writable, eval_sections, log_start_summary, train_section, versions, write_results
    from cola.tracking import SuiteTablesToWandb, finish_wandb_run, prepare_wandb, reports_to_wandb
    from cola.trainer import ColaTrainer

    args = config.training
    logging.getLogger().setLevel(logging.INFO if args.should_log else logging.WARNING)  # one process speaks
    transformers.logging.set_verbosity_warning()

    ensure_writable(args.output_dir)  # fail now, not after an hour of training
    checkpoint = resolve_checkpoint(args.resume_from_checkpoint, args.output_dir)
    if checkpoint:
        reapply_freeze(checkpoint, args, freeze_given="freeze" in config.explicit)

    # --- seed, model, data ---
    set_seed(args.seed)  # before loading: the classification head is initialised here
    model, tokenizer = load_model_and_tokenizer(config.model)
    data = tokenize(load_cola(config.data, seed=args.seed), tokenizer, config.data.max_length)
    class_weights = class_weights_for(
        data.train["labels"], enabled=args.class_weights, values=args.class_weight_values, num_labels=len(LABEL_NAMES)
    )

    # --- freeze: before the Trainer builds the optimizer, which only receives requires_grad parameters ---
    layer_groups = find_layer_groups(model)
    freeze_bottom(layer_groups, args.freeze)
    log_start_summary(
        model_name=config.model.model_name_or_path, model=model, data=data, class_weights=class_weights, layer_groups=layer_groups
    )

    # --- trainer ---
    compute_metrics = build_compute_metrics()
    if args.metric_for_best_model and args.eval_strategy != "no":
        check_metric_for_best_model(args.metric_for_best_model, compute_metrics, data.eval["domain"])
    resolved = resolved_config(config)
    groups_now = functools.partial(layer_group_table, layer_groups)  # read at call time: frozen flags can change
    prepare_wandb(args)
    callbacks = [SaveSuiteState(groups_now)]
    if reports_to_wandb(args):
        callbacks.append(SuiteTablesToWandb(resolved_config=resolved, class_weights=class_weights, layer_group_table=groups_now))
    if args.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=args.early_stopping_patience))
    trainer = ColaTrainer(
        model=model,
        args=args,
        train_dataset=data.train,
        eval_dataset=data.eval,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=compute_metrics,
        class_weights=class_weights,
        callbacks=callbacks,
    )
    if trainer.is_world_process_zero():
        write_resolved_config(resolved, args.output_dir)

    # --- train, evaluate, save ---
    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    eval_metrics = trainer.evaluate()
    trainer.save_model()
    if trainer.is_world_process_zero():
        trainable, total = count_parameters(model)
        results = {
            **eval_sections(eval_metrics),
            "train": train_section(train_output, trainer.state),
            "class_weights": class_weights,
            "layer_groups": layer_group_table(layer_groups),
            "param_groups": trainer.param_group_table,
            "unfreeze_after_steps": trainer.unfreeze_schedule,
            "trainable_parameters": trainable,
            "total_parameters": total,
            "config": resolved,
            "versions": versions(),
        }
        path = write_results(results, args.output_dir)
        logging.getLogger("cola").info(
            "MCC %.4f (in-domain %s, out-of-domain %s); results in %s",
            results["eval"]["matthews_correlation"],
            _fmt(results.get("eval_in_domain")),
            _fmt(results.get("eval_out_of_domain")),
            path,
        )
    finish_wandb_run(args)
    return 0


def _fmt(section: dict | None) -> str:
    return "n/a" if section is None else f"{section['matthews_correlation']:.4f}"


if __name__ == "__main__":
    sys.exit(main())
