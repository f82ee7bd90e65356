"""Several seeds in one call: a sub-run per seed, then one results.json that summarises them.

CoLA scores swing by several MCC points between seeds, and some runs collapse to a single class (MCC 0), so a
single run says little. `--seeds 1 2 3` runs the same configuration once per seed, each in
`output_dir/seed_N` (a complete run directory: model, run_config.json, results.json), and writes to
`output_dir` a results.json with

- `runs`: per seed, its eval sections and train figures, and whether it was `degenerate` (one class predicted);
- `aggregate`: `matthews_correlation` and `accuracy` as {median, mean, std, min, max, q1, q3} (std is the sample
  standard deviation, 0 for one run), the same per domain, train time and samples/s, and `degenerate_runs`
  (their seeds).

With `--resume_from_checkpoint last` a sweep continues where it stopped: seeds whose results.json exists (from
the same configuration) are kept, an interrupted seed resumes from its last checkpoint, the rest start afresh.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from ..checkpoints import checkpoint_folders, config_differences, is_marked_complete
from ..config import RunConfig
from ..errors import CliError, on_one_line
from ..output_dir import claim_output_dir
from ..recipes import resolved_config, write_resolved_config
from ..results import read_results, versions, write_results
from ..run import train_and_report
from ..run_files import RESULTS_FILE
from ..schema import RESULTS_VERSION, SWEEP, SchemaError
from ..tracking import group_wandb_runs
from .stats import aggregate, run_entry

logger = logging.getLogger(__name__)


def sub_run_config(config: RunConfig, seed: int) -> RunConfig:
    """The single-seed configuration of one sub-run."""
    args = copy.deepcopy(config.training)
    top = Path(config.training.output_dir)
    args.seed, args.seeds, args.output_dir = seed, None, str(top / f"seed_{seed}")
    args.run_name = f"{config.training.run_name or top.name}-seed_{seed}"
    # The command that runs this seed alone (its model card quotes it): the sweep's, for one seed and folder.
    argv = (*_without(config.argv, ("--seeds", "--seed", "--output_dir", "--output-dir")), "--seed", str(seed),
            "--output_dir", args.output_dir)
    return RunConfig(model=config.model, data=config.data, training=args, recipe=config.recipe, explicit=config.explicit,
                     argv=argv)


def _without(argv, options) -> list[str]:
    """`argv` less the given options and their values (`--seeds 1 2 3`, `--output_dir=x`)."""
    kept, skipping = [], False
    for word in argv:
        if skipping and not word.startswith("--"):
            continue
        skipping = word in options
        if not skipping and word.split("=", 1)[0] not in options:
            kept.append(word)
    return kept


def run_seeds(config: RunConfig) -> int:
    """Run each seed's run (`cola.run.train_and_report`), then write the summary (on the main process)."""
    args = config.training
    if args.resume_from_checkpoint not in (None, "last"):
        raise CliError("with --seeds, --resume_from_checkpoint takes only 'last' (each seed resumes from its own folder)")
    is_main = args.process_index == 0
    resuming = args.resume_from_checkpoint == "last"
    with claim_output_dir(args.output_dir, resuming=resuming, overwrite=args.overwrite_run, is_main=is_main,
                          sweep=True, reads=config.read_folders()):
        subs = {seed: sub_run_config(config, seed) for seed in args.seeds}
        # Every finished seed's configuration is checked before anything is written: a refused sweep changes nothing.
        earlier = {seed: _finished_results(sub) if resuming else None for seed, sub in subs.items()}
        group_wandb_runs(args)
        resolved = resolved_config(config)
        if is_main:
            write_resolved_config(resolved, args.output_dir)
        runs = []
        for seed, sub in subs.items():
            finished = earlier[seed]
            if finished is None:
                logger.info("Seed %d of %s: training in %s", seed, args.seeds, sub.training.output_dir)
                if resuming and not any(map(is_marked_complete, checkpoint_folders(sub.training.output_dir))):
                    # Not started, or cut off before its first complete checkpoint: it starts afresh, and whatever it left
                    # (a model saved just before the crash, say) is the sweep's own and goes.
                    sub.training.resume_from_checkpoint, sub.training.overwrite_run = None, True
                code = train_and_report(sub)
                if code:
                    return code
                finished = read_results(Path(sub.training.output_dir) / RESULTS_FILE) if is_main else None
            else:
                logger.info("Seed %d: finished earlier, keeping %s", seed, Path(sub.training.output_dir) / RESULTS_FILE)
            if is_main:
                runs.append(run_entry(seed, f"seed_{seed}", finished))
        if is_main:
            summary = aggregate(runs)
            write_results({"schema_version": RESULTS_VERSION, "kind": SWEEP, "seeds": list(args.seeds), "runs": runs,
                           "aggregate": summary, "config": resolved, "versions": versions()}, args.output_dir)
            mcc = summary["matthews_correlation"]
            logger.info(
                "MCC over %d seeds: median %.4f, mean %.4f, std %.4f, min %.4f, max %.4f; degenerate runs: %s",
                len(runs), mcc["median"], mcc["mean"], mcc["std"], mcc["min"], mcc["max"],
                ", ".join(f"seed {s}" for s in summary["degenerate_runs"]) or "none",
            )
    return 0


def _finished_results(sub: RunConfig) -> dict | None:
    """A seed's earlier results, if it finished with the same configuration; an error if the configuration differs."""
    path = Path(sub.training.output_dir) / RESULTS_FILE
    if not path.is_file():
        return None
    try:
        stored = read_results(path)
    except (ValueError, SchemaError) as error:
        raise CliError(f"{path}: {on_one_line(error)}") from None
    changed = config_differences(stored["config"], resolved_config(sub))
    if changed:
        raise CliError(
            f"{path} was produced with different settings ({', '.join(changed)}); resume the sweep with the same "
            f"options, or use a fresh output_dir"
        )
    return stored
