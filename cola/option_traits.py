"""What the code around an option needs to know about it, kept on the option itself: its traits.

A trait sits in the option's dataclass field metadata, beside its help and default (`cola.config`,
`cola.training_options`): `field(default=..., metadata={"help": ..., "resume_may_differ": True})`. The Trainer's own
options that the suite inherits without redeclaring them get theirs in one table beside the class that inherits
them (`training_options.TRAINER_OPTION_TRAITS`). Every list of option names another module acts on is derived from
these (`cola.config.options_with`), never written out again: adding an option means writing its field, traits
included, and nothing else.
"""

from __future__ import annotations

from dataclasses import Field

TRAITS = {
    "resume_may_differ": "may change between a run and its continuation (or a sweep's next seed): where and how it "
                         "is logged, saved and evaluated in batches, never what is trained or in what order",
    "reads": "names what the run reads (the value: what it holds, in words, or 'file' for a data file whose folder "
             "is read): never written into; two spellings of one path are one value",
    "command_line_only": "acts on the output folder for one call: taken from the command line only, never from a file "
                         "nor written to run_config.json",
    "not_used": "a Trainer flag train.py does not read (the value: why): refused, never silently ignored",
    "hardware_fitted": "may be changed to fit the machine (`cola.precision.fit_to_hardware`); run_config.json keeps "
                       "the value asked for",
    "search_managed": "set by the search for each trial (which runs make it up, where they go): never fixed by the user",
    "measured_on": "what a search trial is scored on: searching it would compare trials measured on different things",
}


def traits_of(field: Field, inherited: dict[str, dict]) -> dict:
    """A field's traits: from its metadata, or (a Trainer option the suite inherits) from the table."""
    return {key: value for key, value in field.metadata.items() if key in TRAITS} | inherited.get(field.name, {})


def check_traits(declared: dict[str, dict]) -> None:
    """A trait name that is not one of `TRAITS` (a typo) would be silently ignored: refused at import."""
    unknown = {f"{option}: {trait}" for option, traits in declared.items() for trait in traits if trait not in TRAITS}
    if unknown:
        raise ValueError(f"unknown option traits: {', '.join(sorted(unknown))}")
