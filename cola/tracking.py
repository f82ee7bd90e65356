"""Weights & Biases: offline when there are no credentials, and the suite's own tables beside the metrics.

The Trainer's WandbCallback already logs the training loss, every eval metric (whole set and per domain) and
the training arguments, which include the suite's options (freeze, class weights). This module adds the rest
of the resolved configuration, the class weights, the layer-group table and the parameter-group table, and
makes sure a run without credentials goes offline at once instead of prompting or waiting on the network.
"""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from urllib.parse import urlparse

from transformers import TrainerCallback

from .param_groups import param_group_table

logger = logging.getLogger(__name__)


def reports_to_wandb(args) -> bool:
    report_to = args.report_to if isinstance(args.report_to, list) else [args.report_to]
    return "wandb" in report_to or "all" in report_to


def prepare_wandb(args) -> None:
    """Set W&B's environment before the Trainer creates its callback."""
    if not reports_to_wandb(args):
        return
    os.environ.setdefault("WANDB_PROJECT", "cola-suite")
    os.environ.setdefault("WANDB_DIR", str(Path(args.output_dir).resolve()))
    Path(os.environ["WANDB_DIR"]).mkdir(parents=True, exist_ok=True)
    if not os.environ.get("WANDB_MODE") and not has_wandb_credentials():
        os.environ["WANDB_MODE"] = "offline"
        if args.should_log:
            logger.info(
                "W&B: no credentials found, logging offline to %s/wandb (upload later with `wandb sync`)",
                os.environ["WANDB_DIR"],
            )


def group_wandb_runs(args) -> None:
    """Before a multi-seed run: one W&B group named after the output directory, its runs stored under it."""
    if reports_to_wandb(args):
        os.environ.setdefault("WANDB_RUN_GROUP", Path(args.output_dir).resolve().name)
        prepare_wandb(args)


def finish_wandb_run(args) -> None:
    """Close this training's W&B run. The Trainer's callback only opens a run when none is open, so without this
    the next training in the same process (the next seed) would log into this one."""
    if reports_to_wandb(args):
        import wandb  # here, not at the top: only runs that report to W&B pay for importing it

        if wandb.run is not None:
            wandb.finish()


def has_wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


class SuiteTablesToWandb(TrainerCallback):
    """Adds the suite's configuration and tables to the W&B run the Trainer's WandbCallback opened."""

    def __init__(self, *, resolved_config: dict, report):
        self.resolved_config = resolved_config
        self.report = report  # the Trainer's RunReport: the cache is built (or declined) before training begins

    def on_train_begin(self, args, state, control, optimizer=None, **kwargs):
        if not state.is_world_process_zero:
            return
        import wandb

        if wandb.run is None:
            return
        layer_groups = self.report.layer_groups
        param_groups = param_group_table(optimizer.param_groups) if optimizer is not None else []
        wandb.run.config.update(
            {
                "suite": self.resolved_config,
                "class_weights": self.report.class_weights,
                "layer_groups": layer_groups,
                "plan": self.report.plan,
                "frozen_cache": self.report.frozen_cache,
                "param_groups": [{k: v for k, v in g.items() if k != "params"} | {"n_params": len(g["params"])}
                                 for g in param_groups],
            },
            allow_val_change=True,
        )
        wandb.run.log(
            {
                "tables/layer_groups": wandb.Table(
                    columns=["name", "params", "frozen"], data=[[g["name"], g["params"], g["frozen"]] for g in layer_groups]
                ),
                "tables/param_groups": wandb.Table(
                    columns=["name", "weight_decay", "lr", "params"],
                    data=[[g["name"], g["weight_decay"], g["lr"], ", ".join(g["params"])] for g in param_groups],
                ),
            },
            commit=False,
        )
