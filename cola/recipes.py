"""From the command line and a recipe to a run's configuration, and back out to run_config.json.

Precedence, lowest first: Hugging Face's defaults < the suite's defaults (the field defaults in `cola.config`) <
the recipe (`--recipe FILE.json`) < flags on the command line. Recipes are strict, as TRL's `TrlParser` is: a key
that no option consumes, or a value of the wrong type, is an error that names the key and the file, so a typo
never falls back to a default silently. The resolved configuration (every option's final value, as the user
asked for it) is written next to the results and is itself a valid recipe.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import enum
import json
import sys
import types
import typing
from pathlib import Path

from transformers import HfArgumentParser

from .config import ARGUMENT_CLASSES, RunConfig, options_with
from .errors import CliError, on_one_line
from .files import write_atomic
from .option_traits import TRAITS
from .redact import credentials_in, is_secret_option
from .run_files import RESOLVED_CONFIG_FILE
from .schema import SchemaError, run_config_document, upgrade_run_config
from .training_options import ColaTrainingArguments

# Keys that transformers 5 renamed or removed, with the spelling to use now.
RENAMED_KEYS = {
    "evaluation_strategy": "'eval_strategy'",
    "group_by_length": "'train_sampling_strategy' with the value \"group_by_length\"",
    "warmup_ratio": "'warmup_steps' (a float below 1 is a ratio of the total steps)",
    "no_cuda": "'use_cpu'",
    "overwrite_output_dir": "'overwrite_run' (it deletes the old run's files first; without it a folder that holds "
    "a run is refused)",
}

_UNSET = object()  # a default no value on the command line can equal: marks the options argv did not set


class RecipeParser(HfArgumentParser):
    """`HfArgumentParser` over the suite's four option dataclasses, with strict JSON recipes as defaults."""

    def __init__(self):
        super().__init__(ARGUMENT_CLASSES, description="Fine-tune a BERT-family encoder on CoLA, or on your own "
                                                       "sentence(-pair) classification data.",
                         usage="train.py [--recipe FILE.json] [--OPTION VALUE ...]",
                         # An abbreviation (--hub_tok) would reach an option by a name no check of names sees (the
                         # redaction of secrets, the options a file may not hold): options are taken whole, as in recipes.
                         allow_abbrev=False)
        self._suite_options_first()

    def error(self, message: str):
        """argparse's own refusals (a value outside an option's choices, a number that is not one) as the suite's
        one-line error, not a usage block and a second line."""
        raise CliError(f"{message} (see --help)")

    @staticmethod
    def _parse_dataclass_field(parser, field):
        """An option's traits are for the suite's modules (`cola.option_traits`), not for argparse, which is
        handed the rest of its metadata (help, choices, aliases)."""
        bare = copy.copy(field)
        bare.metadata = types.MappingProxyType({key: value for key, value in field.metadata.items() if key not in TRAITS})
        HfArgumentParser._parse_dataclass_field(parser, bare)

    def _suite_options_first(self) -> None:
        """--help: the suite's own options (model, data, the training options it defines or sets a default for,
        recipe) first, then the ~200 options inherited from TrainingArguments, in a group of their own.
        (argparse has no public way to move an option between groups: its group lists are rearranged here.)"""
        suite_fields = set(vars(ColaTrainingArguments).get("__annotations__", {}))
        training = next(g for g in self._action_groups if g.title == ColaTrainingArguments._argument_group_name)
        inherited = self.add_argument_group("Hugging Face Trainer options",
                                            "TrainingArguments as transformers 5 defines them (its documentation has "
                                            "the details); the suite sets defaults for some, listed above.")
        for action in list(training._group_actions):
            if action.dest in options_with("not_used"):
                action.help = argparse.SUPPRESS  # refused (the not_used trait), so not offered
            if action.dest not in suite_fields:
                training._group_actions.remove(action)
                inherited._group_actions.append(action)

    def parse(self, argv: list[str] | None = None) -> RunConfig:
        """Merge defaults, the recipe and the command line into the run's configuration."""
        argv = list(sys.argv[1:] if argv is None else argv)
        _reject_renamed_flags(argv)
        recipe_path = self.parse_known_args(argv)[0].recipe
        recipe = load_recipe(recipe_path) if recipe_path else {}
        given = self.options_set_by(argv)
        not_used = options_with("not_used")
        unused = sorted(given & not_used.keys())
        if unused:
            raise CliError(f"--{unused[0]} is not used: {not_used[unused[0]]}; leave it out")
        self.set_defaults(**recipe)
        try:
            model, data, training, _, remaining = self.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
        except ValueError as error:  # the options' own checks, e.g. strategies that do not match
            raise CliError(on_one_line(error)) from None
        _refuse_credentials((model, data, training))
        if remaining:
            # Names only: the value after an unknown option may be a credential no check recognised by its name.
            names = [word.split("=", 1)[0] for word in remaining if word.startswith("-")]
            if not names:
                raise CliError(f"{len(remaining)} value(s) with no option before them (see --help)")
            raise CliError(f"unknown option(s): {' '.join(names)}{self._did_you_mean(names)} (see --help)")
        return RunConfig(model=model, data=data, training=training, recipe=recipe_path,
                         explicit=frozenset(given | set(recipe)), argv=tuple(argv))

    def _did_you_mean(self, names: list[str]) -> str:
        """' (did you mean --X?)' for the first unknown option that is close to one (a recipe's typo gets the same)."""
        flags = [flag for action in self._actions for flag in action.option_strings if flag.startswith("--")]
        for name in names:
            close = difflib.get_close_matches(name, flags, n=1, cutoff=0.75) if name.startswith("--") else []
            if close:
                return f" (did you mean {close[0]}?)"
        return ""

    def options_set_by(self, argv: list[str]) -> set[str]:
        """The options `argv` gives a value, whatever the value: parsed by a twin whose defaults are all a marker."""
        probe = type(self)()
        probe.set_defaults(**dict.fromkeys(vars(probe.parse_known_args([])[0]), _UNSET))
        return {name for name, value in vars(probe.parse_known_args(argv)[0]).items() if value is not _UNSET}


def parse_args(argv: list[str] | None = None) -> RunConfig:
    return RecipeParser().parse(argv)


def load_recipe(path: str | Path) -> dict:
    """Read a recipe strictly: every key must be an option, every value of that option's type."""
    path = Path(path)
    data = read_json_object(path, "recipe", "a recipe is a JSON object mapping option names to values")
    try:
        data = upgrade_run_config(data)  # a run_config.json an earlier suite wrote replays as it did then
    except SchemaError as error:
        raise CliError(f"{path}: {error}") from None
    pop_description(path, data)
    options = option_types()
    not_used, command_line_only = options_with("not_used"), options_with("command_line_only")
    for key, value in list(data.items()):
        if is_secret_option(key):
            raise CliError(f"{path}: '{key}' holds a credential; keep it out of files (set HF_TOKEN or run "
                           f"`hf auth login`)")
        if key in not_used:
            raise CliError(f"{path}: '{key}' is not used: {not_used[key]}; remove it")
        if key in command_line_only:
            raise CliError(f"{path}: '{key}' acts on the output folder and is taken from the command line only; "
                           f"remove it from the file (and give --{key} when you mean it)")
        if key == "recipe":
            raise CliError(f"{path}: unknown key 'recipe': a recipe cannot name another recipe; copy its keys in, "
                           f"or give the other recipe with --recipe and this one's keys as flags")
        check_option_key(path, key, options)
        check_option_value(path, key, value, options)
    return data


def read_json_object(path: Path, kind: str, shape: str) -> dict:
    """A JSON `kind` of file that must hold one object (`shape` says which, for the error), no key given twice."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_refuse_duplicate_keys)
    except OSError as error:
        raise CliError(f"cannot read {kind} {path}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: not valid JSON ({error})") from None
    except _DuplicateKey as error:
        raise CliError(f"{path}: key '{error}' is given twice; keep one") from None
    if not isinstance(data, dict):
        raise CliError(f"{path}: {shape}")
    return data


def pop_description(path: Path, data: dict) -> str:
    """A file's free-text 'description' (recipes and search spaces have one), taken out of its option keys."""
    description = data.pop("description", "")
    if not isinstance(description, str):
        raise CliError(f"{path}: 'description' must be a string")
    return description


def check_option_key(path: Path, key: str, options: dict) -> None:
    """A file's key must name an option (or say what transformers 5 calls it now)."""
    if key in RENAMED_KEYS:
        raise CliError(f"{path}: '{key}' is not an option in transformers 5; use {RENAMED_KEYS[key]}")
    if key not in options:
        close = difflib.get_close_matches(key, options, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise CliError(f"{path}: unknown key '{key}'{hint}")


def check_option_value(path: Path, key: str, value, options: dict) -> None:
    """A file's value for option `key` must be of the option's type (and among its choices, if it has any)."""
    hint_type, choices = options[key]
    if not _matches(value, hint_type) or (choices and value is not None and value not in choices):
        expected = f"one of {', '.join(map(str, choices))}" if choices else _type_phrase(hint_type)
        raise CliError(f"{path}: key '{key}' expects {expected}, got {json.dumps(value)}")


def check_stored_options(path: Path, config) -> None:
    """The options a results.json stored (its `config`), each of its option's type where it names one: read back by
    the comparison report, which trusts them no more than a recipe's. Options an older suite had are passed over."""
    options = option_types()
    if not isinstance(config, dict):
        raise CliError(f"{path}: config is not an object of options")
    for key, value in config.items():
        if key in options:
            try:
                check_option_value(path, key, value, options)
            except CliError as error:
                raise CliError(str(error).replace(f"key '{key}'", f"config.{key}", 1)) from None


def resolved_config(config: RunConfig) -> dict:
    """Every option's final value as one flat dict: written next to the results, and loadable as a recipe.

    Options the hardware decided (precision, use_cpu, ...) appear as the user asked for them, so the file replays
    the same request on another machine; results.json says what was used.
    """
    values = {}
    for args in (config.model, config.data):
        values.update(dataclasses.asdict(args))
    values.update(config.training.to_dict())
    values.update(config.training.requested)
    options = option_types()
    # Not written: what acts on the folder for one call, flags the suite does not read, credentials.
    left_out = options_with("command_line_only").keys() | options_with("not_used").keys()
    # to_dict() also reports values derived in __post_init__ under names that are not options; keep options only.
    return {
        "description": f"resolved configuration of a run (recipe: {config.recipe or 'none'})",
        **{key: value for key, value in values.items()
           if key in options and key != "recipe" and key not in left_out
           and not is_secret_option(key)},
    }


def write_resolved_config(resolved: dict, output_dir: str | Path) -> Path:
    """Write `resolved_config(...)` as run_config.json."""
    path = Path(output_dir) / RESOLVED_CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, json.dumps(run_config_document(resolved), indent=2) + "\n")


def option_types() -> dict[str, tuple[object, tuple]]:
    """Option name -> (type hint, allowed choices) for every field the parser exposes."""
    options = {}
    for cls in ARGUMENT_CLASSES:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.init and not f.name.startswith("_"):
                options[f.name] = (hints[f.name], tuple(f.metadata.get("choices", ())))
    return options


class _DuplicateKey(Exception):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    # json.loads keeps the last of two equal keys without a word; in a recipe that hides a mistake.
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def _refuse_credentials(sections) -> None:
    """No option but a credential's own (--hub_token, which goes to HF_TOKEN) may carry one: every option is written
    into run_config.json, results.json, the card and each checkpoint's training_args.bin. Refused by name, the value
    never echoed."""
    for section in sections:
        for f in dataclasses.fields(section):
            value = getattr(section, f.name, None)
            words = value if isinstance(value, (list, tuple)) else [value]
            if not is_secret_option(f.name) and any(isinstance(w, str) and credentials_in(w) for w in words):
                raise CliError(f"--{f.name} holds a credential (a password or token inside it), which the run would "
                               f"write into its files; give the value without it (a token: HF_TOKEN or `hf auth login`)")


def _reject_renamed_flags(argv: list[str]) -> None:
    for token in argv:
        name = token.split("=", 1)[0].lstrip("-").replace("-", "_")
        if token.startswith("--") and name in RENAMED_KEYS:
            raise CliError(f"--{name} is not an option in transformers 5; use {RENAMED_KEYS[name]}")


def _matches(value, hint) -> bool:
    """Whether a JSON value fits an option's type hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and isinstance(value, str):  # e.g. IntervalStrategy | str: the string must name a member
            return any(value in {m.value for m in e} for e in enums)
        return any(_matches(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin in (list, tuple):
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value) if args else isinstance(value, list)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return value in {m.value for m in hint}
    return True  # a type the recipe format cannot express more precisely (Any, callables): the parser decides


def _type_phrase(hint) -> str:
    """How an error message names a type hint: 'an integer', 'a list of a number or null', ..."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_phrase(a) for a in args)
    if origin in (list, tuple):
        return f"a list of {_type_phrase(args[0])}" if args else "a list"
    if hint is type(None):
        return "null"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(m.value for m in hint)
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string", dict: "an object"}.get(
        hint, str(hint)
    )
