"""Hyperparameter search that seed noise cannot fool: Optuna over train.py options, each trial a sweep of seeds.

    python -m cola.experiments.search --recipe recipes/best_offline.json --space recipes/search/offline.json --trials 20

    # any other train.py option is fixed for every trial; a second worker (here or on another machine) joins the study
    python -m cola.experiments.search --space recipes/search/offline.json --trials 20 --data_dir ../shared/cola/raw
    python -m cola.experiments.search --space recipes/search/offline.json --trials 40 --storage postgresql://host/cola

CoLA's MCC swings by several points between seeds and some runs collapse to one class, so a trial scored on one
run mostly rewards a lucky seed. Here a trial is `train.py --seeds ...` (one folder per trial, kept) and scores
the **median over its seeds** of an in-domain dev metric (default in-domain MCC); the out-of-domain half of
GLUE's dev set is reported beside it and never makes a choice: not the trial's score, and not the checkpoint
each run keeps (metric_for_best_model is set to the objective unless the recipe already picks in-domain). The
seeds are never a search dimension. Transformers' `Trainer.hyperparameter_search` is not used: it minimises by
default, scores one run's last evaluation, and samples `seed` as a parameter.

The study lives in a database (Optuna's RDB storage): `sqlite:///DIR/search.db` by default, or any URL Optuna
accepts (PostgreSQL, MySQL), so several processes or machines can work on one study. Running the same command
again continues it: finished trials are kept, a trial stopped by Ctrl-C is recorded as failed and queued to run
again under a new number (a worker killed outright is noticed by its missing heartbeat and treated the same).
`--trials N` is the study's target: finished trials (complete or failed with an error) of every worker together.

Each trial runs train.py's command (`python -m cola`) in a child process (its log in DIR/trial_NNNN/train.log), so a crash, a bad
combination of options or an out-of-memory error fails that trial only: it is recorded with its one-line error,
and the search goes on. After every trial, DIR holds trials.json, report.md, report.png and best_recipe.json
(`cola.experiments.search_report`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import warnings
from pathlib import Path

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, distribution_to_json
from optuna.trial import TrialState

from ..config import options_with
from ..errors import CliError, on_one_line, reports_errors
from ..files import write_atomic
from ..output_dir import existing_run
from ..recipes import RecipeParser, parse_args, resolved_config
from ..redact import command_line, hide_credentials_in_value
from ..results import read_results
from ..run_files import RESULTS_FILE
from ..schema import SchemaError
from .search_report import trial_recipe, write_outputs
from .search_space import as_sampled, load_space
from .stats import aggregate, sweep_runs
from .study_storage import check_storage, open_study
from .trials import error_line, interrupt, launch_subprocess, minutes

logger = logging.getLogger(__name__)

PROG = "cola.experiments.search"
# objective -> (its section of the sweep's aggregate, None for the whole evaluation set; the metric). On CoLA the
# in-domain half only, by design; on your own data, whose evaluation set has no held-out half, the whole of it.
OBJECTIVES = {
    "in_domain_matthews_correlation": ("in_domain", "matthews_correlation"),
    "in_domain_accuracy": ("in_domain", "accuracy"),
    "matthews_correlation": (None, "matthews_correlation"),
    "accuracy": (None, "accuracy"),
}
DEFAULT_OBJECTIVE = {True: "in_domain_matthews_correlation", False: "matthews_correlation"}  # by: is the data CoLA?
EXAMPLE = ("python -m cola.experiments.search --recipe recipes/best_offline.json --space recipes/search/offline.json "
           "--trials 20 --seeds 1 2 3 --data_dir ../shared/cola/raw")


class TrialFailed(Exception):
    """A trial that could not be scored; the message (one line) is stored with it."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {PROG}",
        allow_abbrev=False,  # --seed (a train.py option, refused) must not pass for --seeds
        description="Search train.py options with Optuna; each trial is a sweep of seeds scored by its median "
        "in-domain dev metric. Any other train.py option (see python train.py --help) is fixed for every trial.",
        epilog=f"Example: {EXAMPLE}",
    )
    parser.add_argument("--recipe", help="the recipe every trial starts from (its values for the searched options run "
                        "as the study's first trial when they lie in the space)")
    parser.add_argument("--space", required=True, help="search space JSON (e.g. recipes/search/offline.json)")
    parser.add_argument("--trials", type=int, required=True, help="the study's target number of finished trials, all "
                        "workers together; run the command again with a larger N to search further. With W workers the "
                        "study can end with up to W-1 more: a worker checks the target when its trial ends, and the "
                        "trials other workers have started run to their end")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="the seeds of every trial (default 1 2 3)")
    parser.add_argument("--study", help="study name (default: the space file's name)")
    parser.add_argument("--storage", help="Optuna storage URL (default sqlite:///OUTPUT_DIR/search.db). A database server "
                        "lets workers on several machines share the study: postgresql://USER:PASSWORD@HOST/DB (driver "
                        "psycopg: pip install -e \".[postgres]\"; postgresql+psycopg2://... for psycopg2), or "
                        "mysql+pymysql://USER:PASSWORD@HOST/DB (pip install -e \".[mysql]\"). The password is never "
                        "printed or written")
    parser.add_argument("--output_dir", help="where trial folders and the report go (default outputs/search/STUDY)")
    parser.add_argument("--objective", choices=list(OBJECTIVES),
                        help="the dev metric whose median over seeds scores a trial (default: in_domain_matthews_correlation "
                        "on CoLA, whose in-domain half is the only one allowed; matthews_correlation, the whole "
                        "evaluation set, on your own data)")
    parser.add_argument("--timeout", type=float, help="start no new trial after this many seconds (the running one ends)")
    parser.add_argument("--sampler", default="tpe", choices=["tpe", "random"], help="Optuna sampler (default tpe)")
    parser.add_argument("--startup_trials", type=int, default=10,
                        help="TPE samples at random until the study has this many finished trials (Optuna's default 10)")
    parser.add_argument("--sampler_seed", type=int, help="seed of the sampler (leave unset when several workers share a study)")
    return parser


def objective_figures(aggregate: dict, objective: str) -> dict:
    """What a trial records from its sweep's results.json aggregate: the objective (median over seeds of an
    in-domain metric), and beside it, for the report only, the out-of-domain and whole-dev figures."""
    domain, metric = OBJECTIVES[objective]
    if domain is not None and domain not in aggregate:
        raise TrialFailed(f"the runs report no {domain} figures to score on")
    figures = {"objective": (aggregate[domain] if domain else aggregate)[metric]["median"]}
    sections = {"in_domain": aggregate.get("in_domain"), "out_of_domain": aggregate.get("out_of_domain"),
                "glue_dev": aggregate}
    for name, section in sections.items():
        if section is not None:
            mcc = section["matthews_correlation"]
            figures[f"{name}_mcc"] = {key: mcc[key] for key in ("median", "q1", "q3", "min", "max")}
    figures["accuracy_median"] = aggregate["accuracy"]["median"]
    figures["degenerate_runs"] = aggregate["degenerate_runs"]
    figures["train_runtime_s"] = aggregate["train_runtime_s"]["median"]
    return figures


def counted(trials) -> int:
    """Trials that count towards --trials: complete, or failed with an error of their own (not interrupted)."""
    return sum(t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and "error" in t.user_attrs) for t in trials)


class Search:
    """One worker on one study: the trial function, what follows each trial, and the outputs."""

    def __init__(self, *, study, space, fixed, seeds, objective, output_dir: Path, target: int, launch, command: str):
        self.study, self.space, self.fixed, self.seeds = study, space, fixed, seeds
        self.objective, self.output_dir, self.target, self.launch, self.command = objective, output_dir, target, launch, command
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, trial: optuna.Trial) -> float:
        params = {name: suggest(trial, name, distribution) for name, distribution in self.space.items()}
        folder = self.output_dir / f"trial_{trial.number:04d}"
        trial.set_user_attr("folder", folder.name)
        trial.set_user_attr("worker", self.worker)
        try:
            return self._run(trial, params, folder)
        except TrialFailed as error:
            trial.set_user_attr("error", on_one_line(error))
            raise
        except KeyboardInterrupt:
            # Recorded as failed by Optuna on the way out; the same parameters queue up to run again, under a new
            # number and folder, so the study neither loses the point nor counts it twice.
            trial.set_user_attr("interrupted", True)
            self.study.enqueue_trial(params, user_attrs={"retry_of": trial.number} | _kept_attrs(trial))
            raise

    def _run(self, trial: optuna.Trial, params: dict, folder: Path) -> float:
        if folder.exists():  # another study (or storage) wrote trials here: never mix, never overwrite
            raise TrialFailed(f"{folder} already exists; give this study its own --output_dir")
        folder.mkdir(parents=True)
        recipe = trial_recipe(self.fixed, params, f"trial {trial.number} of the search study '{self.study.study_name}'")
        write_atomic(folder / "recipe.json", json.dumps(recipe, indent=2) + "\n")
        name = f"{self.study.study_name}-{folder.name}"
        argv = ["--recipe", str(folder / "recipe.json"), "--seeds", *map(str, self.seeds), "--output_dir", str(folder),
                "--run_name", name, "--disable_tqdm", "true"]
        logger.info("Trial %d started: %s (log: %s)", trial.number, _params_text(params), folder / "train.log")
        # W&B: the trial's seeds are one group, named after the study and the trial. No progress bars in the log.
        code = self.launch(argv, os.environ | {"WANDB_RUN_GROUP": name, "TQDM_DISABLE": "1"}, folder / "train.log")
        if code == 130:
            raise KeyboardInterrupt
        if code:
            raise TrialFailed(error_line(folder / "train.log"))
        try:  # the child's file, read as any reader reads one (cola.schema); its summary recomputed from its runs
            results = read_results(folder / RESULTS_FILE)
        except (OSError, SchemaError) as error:
            raise TrialFailed(f"{folder / RESULTS_FILE}: {on_one_line(error)}") from None
        figures = objective_figures(aggregate(sweep_runs(results)), self.objective)
        for key, value in figures.items():
            trial.set_user_attr(key, value)
        return figures["objective"]

    def after_trial(self, study: optuna.Study, trial) -> None:
        """One log line per finished trial, the outputs rewritten, and the stop once the target is reached."""
        trials = study.get_trials(deepcopy=False)
        done = counted(trials)
        best = _best(study)
        best_text = f"best so far {best.value:.4f} (trial {best.number})" if best else "no complete trial yet"
        if trial.state == TrialState.COMPLETE:
            attrs = trial.user_attrs
            ood = attrs.get("out_of_domain_mcc")
            in_domain = OBJECTIVES[self.objective][0] is not None
            spread, where = (attrs["in_domain_mcc"], "in-domain") if in_domain else (attrs["glue_dev_mcc"], "eval")
            logger.info(
                "Trial %d done in %s: %s median %.4f (%s MCC IQR %.4f-%.4f)%s; %s; %d/%d trials", trial.number,
                _duration(trial), self.objective, trial.value, where, spread["q1"], spread["q3"],
                f", out-of-domain MCC {ood['median']:.4f} (not used)" if ood else "", best_text, done, self.target,
            )
        else:
            logger.info("Trial %d failed: %s; %s; %d/%d trials", trial.number,
                        trial.user_attrs.get("error", "stopped"), best_text, done, self.target)
        self.write_outputs()
        if done >= self.target:
            study.stop()

    def write_outputs(self) -> None:
        write_outputs(self.study, self.output_dir, fixed=self.fixed, seeds=self.seeds, objective=self.objective,
                      command=self.command)


def suggest(trial: optuna.Trial, name: str, distribution):
    """The trial's value for one option, through Optuna's public suggest API."""
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    suggest_range = trial.suggest_float if isinstance(distribution, FloatDistribution) else trial.suggest_int
    return suggest_range(name, distribution.low, distribution.high, log=distribution.log, step=distribution.step)


def _kept_attrs(trial: optuna.Trial) -> dict:
    return {key: trial.user_attrs[key] for key in ("baseline",) if key in trial.user_attrs}


def _best(study: optuna.Study):
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(complete, key=lambda t: t.value) if complete else None


def _params_text(params: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _duration(trial) -> str:
    return minutes((trial.datetime_complete - trial.datetime_start).total_seconds())


def fixed_options(recipe: str | None, passthrough: list[str], space: dict, objective: str | None) -> tuple[dict, dict, str]:
    """The options every trial shares (the recipe's and the command line's, checked now, before any trial), every
    option's value without the search (for the baseline trial), and the objective (its default follows the data)."""
    given = RecipeParser().options_set_by(passthrough)
    managed = sorted(given & options_with("search_managed").keys())
    if managed:
        raise CliError(f"--{managed[0]} is set by the search for each trial; leave it out")
    config = parse_args((["--recipe", recipe] if recipe else []) + passthrough)
    searched = sorted(given & space.keys())
    if searched:
        raise CliError(f"--{searched[0]} is both fixed on the command line and searched in the space; drop one")
    cola = config.data.uses_cola
    objective = objective or DEFAULT_OBJECTIVE[cola]
    if cola != bool(OBJECTIVES[objective][0]):
        raise CliError(f"--objective {objective}: on CoLA the search scores the in-domain dev half only (the out-of-domain "
                       "half stays held out); on your own data, the whole evaluation set" if cola else
                       f"--objective {objective} needs CoLA's in-domain dev half; on your own data use matthews_correlation "
                       f"or accuracy (the whole evaluation set)")
    if cola and config.data.eval_split != "glue_dev":
        raise CliError("the search scores trials on GLUE's in-domain dev half: use eval_split glue_dev")
    resolved = resolved_config(config)
    fixed = {key: resolved[key] for key in sorted(config.explicit) if key in resolved
             and key not in options_with("search_managed")}
    metric = config.training.metric_for_best_model
    if not cola:
        return fixed, resolved, objective
    if config.training.load_best_model_at_end and not (metric or "").removeprefix("eval_").startswith("in_domain_"):
        if "metric_for_best_model" in config.explicit:
            raise CliError(f"metric_for_best_model '{metric}' would pick each run's checkpoint partly on out-of-domain "
                           f"sentences, which the search never lets make a choice; use {objective} (or leave it unset)")
        fixed["metric_for_best_model"] = objective
    return fixed, resolved, objective


def check_same_search(study, setup: dict, shown_url: str) -> None:
    """A continued study must be searched the same way (space, fixed options, seeds, objective)."""
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise CliError(f"study '{study.study_name}' in {shown_url} minimises; the search maximises: choose another --study")
    stored = study.user_attrs.get("search")
    if stored is None:
        if any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
            raise CliError(f"study '{study.study_name}' in {shown_url} was not made by {PROG}; choose another --study")
        study.set_user_attr("search", setup)
        return
    differs = [key for key in setup if stored.get(key) != setup[key]]
    if differs:
        fixed = sorted(k for k in stored.get("fixed", {}).keys() | setup["fixed"].keys()
                       if stored.get("fixed", {}).get(k) != setup["fixed"].get(k))
        named = [f"fixed options ({', '.join(fixed)})" if key == "fixed" else key for key in differs]
        raise CliError(f"study '{study.study_name}' in {shown_url} was started with a different "
                       f"{', '.join(named)}; continue it with the same options, or start another --study")


def enqueue_baseline(study, space: dict, resolved: dict) -> None:
    """A new study's first trial: the recipe as it is (its values for the searched options), the one to beat."""
    params = {}
    for name, distribution in space.items():
        fits, value = as_sampled(distribution, resolved[name])
        if not fits:
            logger.info("The recipe's %s=%s lies outside the space: no baseline trial", name, resolved[name])
            return
        params[name] = value
    study.enqueue_trial(params, user_attrs={"baseline": True}, skip_if_exists=True)  # two workers starting at once


@reports_errors
def main(argv: list[str] | None = None, launch=launch_subprocess) -> int:
    # SIGTERM (what `kill`, Slurm and Kubernetes send) stops a worker as Ctrl-C does: the trial's child is
    # stopped, the trial recorded as interrupted and queued to run again.
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        return search_command(argv, launch)
    except KeyboardInterrupt:  # before the first trial (one under way is handled, and queued again, inside)
        raise CliError("interrupted before any trial ran; nothing was started", exit_code=130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_search_numbers(args) -> None:
    if args.trials < 1:
        raise CliError(f"--trials must be 1 or more, got {args.trials}")
    if args.startup_trials < 0 or (args.timeout is not None and not args.timeout > 0):
        raise CliError("--startup_trials must be 0 or more and --timeout a positive number of seconds")
    if len(set(args.seeds)) != len(args.seeds):
        raise CliError(f"--seeds takes distinct integers, got {' '.join(map(str, args.seeds))}")


def search_command(argv: list[str] | None, launch) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    argv = list(sys.argv[1:] if argv is None else argv)
    args, passthrough = build_parser().parse_known_args(argv)
    check_search_numbers(args)
    space = load_space(args.space)
    fixed, resolved, args.objective = fixed_options(args.recipe, passthrough, space, args.objective)
    args.study = args.study or Path(args.space).stem
    output_dir = Path(args.output_dir or Path("outputs/search") / args.study)
    if output_dir.is_dir() and existing_run(output_dir):
        raise CliError(f"{output_dir} holds {existing_run(output_dir)}, not a search; choose another --output_dir")
    created = not output_dir.exists()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CliError(f"cannot write to {output_dir}: {error.strerror}") from None
    storage_url = args.storage or f"sqlite:///{output_dir / 'search.db'}"
    shown_url = hide_credentials_in_value(storage_url)  # what logs, errors and reports say: never the password
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # one line per trial comes from here, not Optuna's tracebacks
    try:
        check_storage(storage_url, shown_url)
        study = open_study(args, storage_url)
    except CliError:
        if created and not any(output_dir.iterdir()):
            output_dir.rmdir()  # a study that could not be opened leaves no folder behind
        raise
    setup = {"space": {name: json.loads(distribution_to_json(d)) for name, d in space.items()}, "fixed": fixed,
             "seeds": args.seeds, "objective": args.objective}
    check_same_search(study, setup, shown_url)
    # Trials of workers that died (no heartbeat for study_storage.STALE_AFTER_S) are failed and queued again now, before the
    # target is checked: a study that reached its target would otherwise never reclaim them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    if not study.get_trials(deepcopy=False):
        enqueue_baseline(study, space, resolved)
    command = command_line(f"python -m {PROG}", argv)
    search = Search(study=study, space=space, fixed=fixed, seeds=args.seeds, objective=args.objective,
                    output_dir=output_dir, target=args.trials, launch=launch, command=command)
    done = counted(study.get_trials(deepcopy=False))
    if done >= args.trials:
        logger.info("Study '%s' already has %d finished trials (target %d): nothing to run; raise --trials to search "
                    "further", args.study, done, args.trials)
    else:
        logger.info("Study '%s' in %s: %d of %d trials finished; seeds %s; scoring on the median %s",
                    args.study, shown_url, done, args.trials, args.seeds, args.objective)
        try:
            study.optimize(search, timeout=args.timeout, callbacks=[search.after_trial], catch=(TrialFailed,))
        except KeyboardInterrupt:
            search.write_outputs()
            raise CliError(f"interrupted; the study is saved in {shown_url} with the stopped trial queued to run "
                           f"again: run the same command to continue", exit_code=130) from None
    search.write_outputs()
    best = _best(study)
    logger.info("Best trial: %s; report: %s", f"{best.number} ({best.value:.4f})" if best else "none complete",
                output_dir / "report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
