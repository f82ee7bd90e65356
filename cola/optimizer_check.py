"""The optimizer and the learning-rate schedule a run asks for, checked before any data or model loads.

Built once on a stand-in parameter: a package an optimizer needs (bitsandbytes, torchao, schedulefree, ...) that is
not installed, `--optim_args` an optimizer drops, or `--lr_scheduler_kwargs` the schedule does not take (or takes
and fails on at its first step) is a one-line error now, not a traceback an hour into training. The Trainer's own
`create_optimizer` (`cola.trainer`) asks `refuse_own_groups` again once the model is there.
"""

from __future__ import annotations

import ast
import json
import math
import warnings

import torch
from transformers import Trainer, get_scheduler

from .errors import CliError, on_one_line


def check_optimizer_and_schedule(args) -> None:
    """The optimizer and the LR schedule the run asks for, built once on a stand-in parameter before any data or
    model loads: a package an optimizer needs (bitsandbytes, torchao, schedulefree, ...) that is not installed, or
    `--lr_scheduler_kwargs` the schedule does not take, is a one-line error now, not a traceback when training starts.
    Optimizers that need the model itself (GaLore, LOMO, ...) are checked again when it is there."""
    optim = optim_name(args)
    try:
        optimizer_cls, optimizer_kwargs = Trainer.get_optimizer_cls_and_kwargs(args)
    except (ImportError, ValueError) as error:
        raise CliError(f"--optim {optim}: {on_one_line(error)}") from None
    refuse_own_groups(args, optimizer_kwargs)
    # Read means: the optimizer gets the value given (AdamW's kwargs hold an `eps`, but the Trainer takes it from
    # --adam_epsilon, never from --optim_args).
    ignored = sorted(key for key, value in _optim_args(args.optim_args).items()
                     if key not in optimizer_kwargs or not _same_value(value, optimizer_kwargs[key]))
    if ignored:  # the Trainer reads --optim_args for some optimizers only, and drops them for the rest without a word
        raise CliError(f"--optim {optim} does not read --optim_args {', '.join(ignored)} (the Trainer passes --optim_args "
                       f"to some optimizers only; AdamW's settings are --adam_beta1, --adam_beta2, --adam_epsilon)")
    stand_in = [torch.zeros(1, requires_grad=True)]
    try:
        optimizer = optimizer_cls(stand_in, **optimizer_kwargs)
    except (TypeError, ValueError, RuntimeError) as error:
        raise CliError(f"--optim {optim} (with --optim_args {args.optim_args!r}): {on_one_line(error)}") from None
    kwargs = f" with --lr_scheduler_kwargs {json.dumps(args.lr_scheduler_kwargs)}" if args.lr_scheduler_kwargs else ""
    negative = [key for key, value in (args.lr_scheduler_kwargs or {}).items()
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0]
    if negative:
        raise CliError(f"--lr_scheduler_type {args.lr_scheduler_type.value}{kwargs}: {negative[0]} must be 0 or more")
    try:
        # Stepped through a short schedule, not only built: a value of the wrong type (a string for a number of
        # steps) passes the constructor and fails at the first step, an hour into a run.
        scheduler = get_scheduler(args.lr_scheduler_type, optimizer=optimizer, num_warmup_steps=1, num_training_steps=10,
                                  scheduler_specific_kwargs=args.lr_scheduler_kwargs)
        plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)  # stepped with the eval metric
        with warnings.catch_warnings():  # the optimizer itself is not stepped (some need a training mode, a gradient)
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(10):
                scheduler.step(1.0) if plateau else scheduler.step()
        learning_rates = scheduler.get_last_lr()
    except (TypeError, ValueError, ArithmeticError) as error:
        raise CliError(f"--lr_scheduler_type {args.lr_scheduler_type.value}{kwargs}: {on_one_line(error)}") from None
    if not all(isinstance(lr, (int, float)) and math.isfinite(lr) for lr in learning_rates):
        raise CliError(f"--lr_scheduler_type {args.lr_scheduler_type.value}{kwargs}: the schedule gives a learning rate "
                       f"that is not a number ({learning_rates[0]!r})")


def _optim_args(optim_args: str | None) -> dict[str, str]:
    """`--optim_args "a=1,b=2"` (the Trainer's own format) as a dict of the texts given."""
    pairs = (pair.split("=", 1) for pair in (optim_args or "").replace(" ", "").split(",") if pair)
    return {pair[0]: pair[-1] for pair in pairs}


def _same_value(text: str, value) -> bool:
    """Whether the optimizer's keyword value is what `text` says (`1e-6` and 1e-06, `False` and False, ...)."""
    if str(value) == text:
        return True
    try:
        return ast.literal_eval(text) == value
    except (ValueError, SyntaxError):
        return False


def refuse_own_groups(args, optimizer_kwargs: dict) -> None:
    """The suite hands the optimizer its named parameter groups; an optimizer that builds its own cannot take them."""
    if {"params", "model", "optimizer_dict"} & optimizer_kwargs.keys():
        raise CliError(f"--optim {optim_name(args)} builds its own parameter groups; the suite cannot use it")


def optim_name(args) -> str:
    return getattr(args.optim, "value", args.optim)  # the name the user gave, not the enum's
