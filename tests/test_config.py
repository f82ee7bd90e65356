"""`cola.config`: every option once, with its checks; what a run reads from."""

import pytest

from cola.errors import CliError
from cola.recipes import parse_args
from cola.training_options import launch_problem


@pytest.mark.parametrize("argv, message", [
    (["--learning_rate", "-1"], "learning_rate must be a positive number, got -1.0"),
    (["--learning_rate", "nan"], "learning_rate must be a positive number, got nan"),
    (["--learning_rate", "1e999"], "learning_rate must be a positive number, got inf"),
    (["--per_device_train_batch_size", "0"], "per_device_train_batch_size must be 1 or more, got 0"),
    (["--per_device_eval_batch_size", "0"], "per_device_eval_batch_size must be 1 or more, got 0"),
    (["--gradient_accumulation_steps", "0"], "gradient_accumulation_steps must be 1 or more, got 0"),
    (["--num_train_epochs", "0"], "num_train_epochs must be a positive number (or give max_steps), got 0.0"),
    (["--label_smoothing_factor", "1"], "label_smoothing_factor must be in [0, 1), got 1.0"),
    (["--weight_decay", "-0.1"], "weight_decay must be 0 or more, got -0.1"),
    (["--class_weight_values", "inf", "1"], "class_weight_values must be finite numbers, got [inf, 1.0]"),
    (["--seed", "-1"], "seeds must be between 0 and 4294967295, got -1"),
    (["--seeds", "1", "4294967296"], "seeds must be between 0 and 4294967295, got 4294967296"),
    (["--bf16", "--fp16"], "--bf16 and --fp16 contradict each other; give one (or --precision)"),
    (["--max_grad_norm", "-1"], "max_grad_norm must be 0 (no clipping) or more, got -1.0"),
    (["--dataloader_num_workers", "-1"], "dataloader_num_workers must be 0 or more, got -1"),
    (["--per_device_train_batch_size", "65537"], "per_device_train_batch_size is limited to 65,536, got 65,537"),
    (["--overwrite_run", "--resume_from_checkpoint", "last"],
     "--overwrite_run deletes the checkpoints --resume_from_checkpoint would continue; give one"),
])
def test_options_out_of_range_are_refused_before_any_work(argv, message):
    with pytest.raises(CliError) as error:
        parse_args(argv)
    assert str(error.value) == message


def test_zero_epochs_are_fine_with_max_steps():
    assert parse_args(["--num_train_epochs", "0", "--max_steps", "3"]).training.max_steps == 3


def test_option_checks():
    with pytest.raises(CliError, match="class_weight_values was given together with --no-class-weights"):
        parse_args(["--no-class-weights", "--class_weight_values", "1", "2"])
    with pytest.raises(CliError, match="positive weights, one per class"):
        parse_args(["--class_weight_values", "1", "0"])
    with pytest.raises(CliError, match="holdout_fraction"):
        parse_args(["--holdout_fraction", "1.5"])


def test_values_that_would_overflow_are_refused():
    with pytest.raises(CliError, match=r"^num_train_epochs is limited to 100,000 and max_steps to 1,000,000,000, got 1e\+308"):
        parse_args(["--num_train_epochs", "1e308"])
    with pytest.raises(CliError, match=r"got 3 and 99999999999999999999$"):
        parse_args(["--max_steps", "99999999999999999999"])


def test_read_folders_name_what_the_run_reads(tmp_path):
    config = parse_args(["--model_name_or_path", str(tmp_path / "m"), "--train_file", str(tmp_path / "d" / "t.csv"),
                         "--validation_file", str(tmp_path / "v.csv")])
    assert config.read_folders() == {"the base model": str(tmp_path / "m"), "the CoLA data": None,
                                     "--train_file": str(tmp_path / "d"), "--validation_file": str(tmp_path)}


@pytest.mark.parametrize("environ, alone", [
    ({"ACCELERATE_MIXED_PRECISION": "no", "MASTER_ADDR": "10.0.0.1"}, True),  # accelerate --cpu, 2 machines
    ({"ACCELERATE_MIXED_PRECISION": "no"}, False),  # accelerate, one process: nothing asked for more
    ({"ACCELERATE_MIXED_PRECISION": "no", "MASTER_ADDR": "10.0.0.1", "WORLD_SIZE": "4"}, False),  # --multi_gpu
    ({"ACCELERATE_MIXED_PRECISION": "no", "MASTER_ADDR": "10.0.0.1", "PMI_SIZE": "4"}, False),  # mpirun hostfile
    ({"MASTER_ADDR": "10.0.0.1"}, False),  # a plain python train.py in a shell that exports MASTER_ADDR
])
def test_a_launch_that_forms_no_process_group_is_refused(environ, alone):
    assert (launch_problem(environ) is not None) == alone


def test_the_launch_check_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(CliError, match="accelerate launch asked for several processes"):
        parse_args([])


def test_an_empty_list_of_lora_targets_is_refused_not_the_default(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text('{"lora_r": 2, "lora_target_modules": []}')
    with pytest.raises(CliError, match=r"^lora_target_modules takes one or more layer names \(or all-linear\); leave it "
                                       r"out for the model type's default$"):
        parse_args(["--recipe", str(recipe)])


@pytest.mark.parametrize("spelled", ["{tmp}/out/", "{tmp}/missing/../out", "{tmp}/./out", "~/cola-out"])
def test_the_output_folder_is_the_real_path_it_names(tmp_path, spelled, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = parse_args(["--output_dir", spelled.format(tmp=tmp_path)])
    assert config.training.output_dir == str(tmp_path / ("cola-out" if spelled.startswith("~") else "out"))


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_output_folder_is_refused_not_the_default(empty, capsys):
    import train

    assert train.main(["--output_dir", empty]) == 2
    assert capsys.readouterr().err == ("error: output_dir is empty; name a folder (or leave the option out for "
                                       "outputs/cola)\n")


# --- traits: an option's facts live on its field, and every module that acts on one reads it there ---

def test_a_made_up_options_traits_reach_every_consumer(tmp_path, monkeypatch):
    """A new option needs its field and nothing else: resuming, the recipe reader and writer, the parser, the folder
    checks and the search each honour the traits written on it."""
    import json
    from dataclasses import dataclass, field

    from cola import config, recipes
    from cola.checkpoints import config_differences
    from cola.experiments.search_space import load_space
    from cola.recipes import load_recipe, resolved_config
    from cola.training_options import ColaTrainingArguments

    @dataclass
    class MoreData(config.DataArguments):
        made_up_dir: str | None = field(default=None, metadata={"help": "d", "reads": "the made-up data",
                                                                "measured_on": True})
        made_up_log: int = field(default=1, metadata={"help": "l", "resume_may_differ": True})
        made_up_once: bool = field(default=False, metadata={"help": "o", "command_line_only": True,
                                                            "search_managed": True})
        made_up_unused: bool = field(default=False, metadata={"help": "u", "not_used": "train.py never reads it"})

    classes = (config.ModelArguments, MoreData, ColaTrainingArguments, config.RecipeArguments)
    monkeypatch.setattr(config, "ARGUMENT_CLASSES", classes)
    monkeypatch.setattr(recipes, "ARGUMENT_CLASSES", classes)

    # resume_may_differ, and reads (two spellings of one folder are one value; another folder differs)
    (tmp_path / "d").mkdir()
    stored = {"made_up_log": 1, "made_up_dir": str(tmp_path / "d")}
    assert config_differences(stored, {"made_up_log": 5, "made_up_dir": f"{tmp_path}/./d/"}) == []
    assert config_differences(stored, {"made_up_log": 1, "made_up_dir": str(tmp_path)}) == ["made_up_dir"]
    run = parse_args(["--made_up_dir", str(tmp_path / "d"), "--made_up_once", "true"])
    assert run.read_folders()["the made-up data"] == str(tmp_path / "d")
    # command_line_only: taken from the command line, never from a file nor written to one
    assert run.data.made_up_once and "made_up_once" not in resolved_config(run)
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"made_up_once": True}))
    with pytest.raises(CliError, match="'made_up_once' acts on the output folder and is taken from the command line only"):
        load_recipe(recipe)
    # not_used: refused, with its reason
    with pytest.raises(CliError, match="^--made_up_unused is not used: train.py never reads it; leave it out$"):
        parse_args(["--made_up_unused", "true"])
    # search_managed and measured_on: never a search dimension
    for name, message in (("made_up_once", "the search sets it for each trial"),
                          ("made_up_dir", "it changes what a trial is scored on")):
        space = tmp_path / f"{name}.json"
        space.write_text(json.dumps({name: {"type": "categorical", "choices": ["a", "b"]}}))
        with pytest.raises(CliError, match=message):
            load_space(space)


def test_a_made_up_hardware_fitted_option_keeps_what_was_asked(tmp_path):
    from dataclasses import dataclass, field

    from cola.training_options import ColaTrainingArguments

    @dataclass
    class MoreTraining(ColaTrainingArguments):
        made_up_device: str = field(default="any", metadata={"help": "h", "hardware_fitted": True})

    args = MoreTraining(output_dir=str(tmp_path), made_up_device="fast", report_to="none", precision="fp32")
    assert args.requested["made_up_device"] == "fast" and args.requested["precision"] == "fp32"


def test_the_trainers_option_traits_name_options_the_suite_inherits():
    """The table is for the Trainer's own options the suite does not redeclare (a redeclared one carries its traits
    on its field); a name that is no option (transformers renames them) would be a trait on nothing."""
    from dataclasses import fields

    from transformers import TrainingArguments

    from cola.training_options import TRAINER_OPTION_TRAITS, ColaTrainingArguments

    trainers = {f.name for f in fields(TrainingArguments) if f.init}
    redeclared = set(vars(ColaTrainingArguments).get("__annotations__", {}))
    assert set(TRAINER_OPTION_TRAITS) <= trainers - redeclared
