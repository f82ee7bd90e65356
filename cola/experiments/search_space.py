"""A search space: a JSON file, as strict as a recipe, mapping train.py options to Optuna distributions.

    {
      "description": "what this space is for",
      "learning_rate": {"type": "float", "low": 1e-5, "high": 2e-4, "log": true},
      "num_train_epochs": {"type": "int", "low": 3, "high": 8},
      "per_device_train_batch_size": {"type": "categorical", "choices": [16, 32]}
    }

Every key must be a train.py option, and every bound or choice a value that option takes in a recipe (checked by
the recipe's own rules, `cola.recipes`), so a typo or a wrong type is a one-line error naming the file and the key
before any trial runs. `float` takes `log` (true: sampled on a log scale) or `step`; `int` takes `log` or `step`;
`categorical` takes `choices` (JSON scalars). Options that decide which runs make up a trial, or what a trial is
scored on, cannot be searched: the seeds are never a search dimension.
"""

from __future__ import annotations

import math
from pathlib import Path

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from ..config import options_with
from ..errors import CliError
from ..recipes import check_option_key, check_option_value, option_types, pop_description, read_json_object

_FIELDS = {"float": {"low", "high", "log", "step"}, "int": {"low", "high", "log", "step"}, "categorical": {"choices"}}


def load_space(path: str | Path) -> dict[str, BaseDistribution]:
    """Read a space file strictly; option name -> distribution, in the file's order."""
    path = Path(path)
    data = read_json_object(path, "search space", "a search space is a JSON object mapping option names to "
                                                  "distributions such as {\"type\": \"float\", \"low\": 1e-5, \"high\": 1e-4}")
    pop_description(path, data)
    if not data:
        raise CliError(f"{path}: the space names no option to search")
    options = option_types()
    space = {}
    for key, spec in data.items():
        check_option_key(path, key, options)
        if key in options_with("search_managed"):
            raise CliError(f"{path}: '{key}' cannot be searched: the search sets it for each trial (the seeds are "
                           f"given with --seeds and are never a search dimension)")
        if key in options_with("measured_on"):
            raise CliError(f"{path}: '{key}' cannot be searched: it changes what a trial is scored on")
        space[key] = _distribution(path, key, spec, options)
    return space


def _distribution(path: Path, key: str, spec, options: dict) -> BaseDistribution:
    where = f"{path}: key '{key}'"
    if not isinstance(spec, dict) or spec.get("type") not in _FIELDS:
        raise CliError(f"{where} needs a distribution: an object with \"type\" one of float, int, categorical")
    kind = spec["type"]
    extra = set(spec) - _FIELDS[kind] - {"type"}
    if extra:
        raise CliError(f"{where}: unknown field(s) {', '.join(sorted(extra))} for a {kind} distribution "
                       f"(it takes {', '.join(sorted(_FIELDS[kind]))})")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise CliError(f"{where}: a categorical distribution needs \"choices\", a non-empty list")
        for choice in choices:
            if isinstance(choice, (list, dict)):
                raise CliError(f"{where}: choices must be single values (numbers, strings, true/false, null)")
            check_option_value(path, key, choice, options)
        if len({repr(c) for c in choices}) != len(choices):
            raise CliError(f"{where}: a choice is listed twice")
        return CategoricalDistribution(choices)

    number = float if kind == "float" else int
    bounds = {}
    for name in ("low", "high"):
        value = spec.get(name)
        if not _is_number(value, number):
            raise CliError(f"{where}: \"{name}\" must be {'a number' if kind == 'float' else 'an integer'}")
        check_option_value(path, key, value, options)
        bounds[name] = value
    if kind == "float":
        check_option_value(path, key, (bounds["low"] + bounds["high"]) / 2, options)  # an integer option refuses this
    low, high, log, step = bounds["low"], bounds["high"], spec.get("log", False), spec.get("step")
    if not isinstance(log, bool):
        raise CliError(f"{where}: \"log\" must be true or false")
    if step is not None and (log or not _is_number(step, number) or step <= 0):
        raise CliError(f"{where}: \"step\" must be a positive {'number' if kind == 'float' else 'integer'}, and "
                       f"cannot go with \"log\"")
    if not low < high:
        raise CliError(f"{where}: \"low\" must be below \"high\" (for one value, fix the option in the recipe)")
    if log and low <= 0:
        raise CliError(f"{where}: a log-scale range needs \"low\" above 0")
    if kind == "float":
        return FloatDistribution(low, high, log=log, step=step)
    return IntDistribution(low, high, log=log, step=step or 1)


def _is_number(value, number: type) -> bool:
    if isinstance(value, bool):
        return False
    if number is int:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


def as_sampled(distribution: BaseDistribution, value) -> tuple[bool, object]:
    """(True, the value as the distribution gives it) if it can give `value`, else (False, None).

    Used to run the recipe's own values as a study's first trial: 5.0 epochs from a recipe is the int 5 of an int
    range, or the choice 5 of a categorical one."""
    if isinstance(distribution, CategoricalDistribution):
        for choice in distribution.choices:
            if value == choice and isinstance(value, bool) == isinstance(choice, bool):
                return True, choice
        return False, None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not distribution.low <= value <= distribution.high:
        return False, None
    if isinstance(distribution, IntDistribution):
        fits = float(value).is_integer() and (int(value) - distribution.low) % distribution.step == 0
        return fits, int(value) if fits else None
    step = distribution.step
    fits = step is None or math.isclose((value - distribution.low) / step, round((value - distribution.low) / step))
    return fits, float(value) if fits else None
