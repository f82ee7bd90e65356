"""Where a run reports: Weights & Biases (offline when there are no credentials, the suite's own tables beside the
metrics), the other `--report_to` integrations, and the Hub (`--push_to_hub`), each checked before any work.

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

from .errors import CliError, on_one_line
from .param_groups import param_group_table

logger = logging.getLogger(__name__)


def check_reporting(args) -> None:
    """Before any data or model is loaded: every `--report_to` integration is installed, and `--push_to_hub` has
    credentials and reaches the Hub. Each failure is one line (the Trainer would fail later, with a traceback)."""
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK, get_available_reporting_integrations

    available = set(get_available_reporting_integrations())
    for name in args.report_to or []:
        if name not in INTEGRATION_TO_CALLBACK:
            raise CliError(f"--report_to {name}: not an integration the Trainer knows (it knows: "
                           f"{', '.join(sorted(INTEGRATION_TO_CALLBACK))})")
        if name not in available:
            package = {"comet_ml": "comet-ml", "azure_ml": "azureml-core"}.get(name, name)
            raise CliError(f"--report_to {name}: {name} is not installed (pip install {package}), or leave it out")
    if args.push_to_hub:
        check_hub(args)


def check_hub(args) -> None:
    """`--push_to_hub` needs credentials and the Hub: asked once, now, so a run never trains for an hour and then
    fails to upload (without network, huggingface_hub's error is a 30-line traceback)."""
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("0", "false", "no", ""):
        raise CliError("--push_to_hub with HF_HUB_OFFLINE set: the run could not upload; unset it, or leave --push_to_hub out")
    token = args.hub_token or huggingface_hub.get_token()
    if not token:
        raise CliError("--push_to_hub needs Hub credentials: run `hf auth login` or set HF_TOKEN (or leave --push_to_hub out)")
    try:
        huggingface_hub.HfApi().whoami(token=token)
    except HfHubHTTPError as error:
        raise CliError(f"--push_to_hub: the Hub refused the credentials ({on_one_line(error)})") from None
    except Exception as error:  # noqa: BLE001 - no network: requests' and httpx' errors differ by version
        raise CliError(f"--push_to_hub: cannot reach the Hub ({type(error).__name__}); check the network, or leave "
                       f"--push_to_hub out") from None


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
        self.report = report  # the run's RunReport, assembled before training

    def on_train_begin(self, args, state, control, optimizer=None, **kwargs):
        if not state.is_world_process_zero:
            return
        import wandb

        if wandb.run is None:
            return
        layer_groups = self.report.layer_groups
        param_groups = param_group_table(optimizer.param_groups)  # the optimizer is built before training begins
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
