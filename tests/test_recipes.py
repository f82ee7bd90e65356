"""Options, recipes and their precedence (`cola.config`, `cola.recipes`); every shipped recipe loads with the
production loader."""

import json
import subprocess
import sys

import pytest
from conftest import REPO

from cola.errors import CliError
from cola.files import real_path
from cola.recipes import RecipeParser, load_recipe, parse_args, resolved_config, write_resolved_config
from cola.run_files import RESOLVED_CONFIG_FILE

RECIPES = sorted((REPO / "recipes").glob("*.json"))  # recipes/search/ holds search spaces (tests/test_search.py)


def test_recipes_exist():
    assert len(RECIPES) >= 5
    assert {p.stem for p in RECIPES} >= {"full_cw", "full", "freeze6_cw", "freeze6", "quick", "best_offline"}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_loads_and_parses(recipe):
    values = load_recipe(recipe)
    config = parse_args(["--recipe", str(recipe)])
    for key, value in values.items():
        got = getattr(config.model, key, getattr(config.data, key, getattr(config.training, key, None)))
        if key == "output_dir":  # the folder it names, however spelled
            value = str(real_path(value))
        assert (got.value if hasattr(got, "value") else got) == value, key
    assert json.loads(recipe.read_text())["description"]


@pytest.mark.parametrize("recipe", ["full_cw", "full", "freeze6_cw", "freeze6"])
def test_notebook_grid_recipes_match_the_notebook(recipe):
    config = parse_args(["--recipe", str(REPO / "recipes" / f"{recipe}.json")])
    t = config.training
    assert config.model.model_name_or_path == "bert-base-uncased"
    assert (t.num_train_epochs, t.per_device_train_batch_size, t.learning_rate, t.weight_decay) == (15, 64, 2e-5, 1e-6)
    assert config.data.max_length == 64
    assert t.freeze == (6 if "freeze6" in recipe else 0)
    assert t.class_weights == recipe.endswith("_cw")


def test_user_spellings():
    config = parse_args(["--freeze", "6", "--no-class-weights"])
    assert config.training.freeze == 6 and config.training.class_weights is False
    assert parse_args([]).training.class_weights is True


def test_precedence_default_recipe_cli(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"learning_rate": 3e-5, "freeze": 2, "class_weights": False}))
    assert parse_args([]).training.learning_rate == 2e-5  # the suite's default
    config = parse_args(["--recipe", str(recipe), "--freeze", "4"])
    assert config.training.learning_rate == 3e-5  # recipe over default
    assert config.training.freeze == 4  # command line over recipe
    assert config.training.class_weights is False
    assert parse_args(["--recipe", str(recipe), "--class_weights"]).training.class_weights is True


@pytest.mark.parametrize(
    "content, message",
    [
        ({"lerning_rate": 1e-4}, "unknown key 'lerning_rate' (did you mean 'learning_rate'?)"),
        ({"learning_rate": "fast"}, "key 'learning_rate' expects a number, got \"fast\""),
        ({"freeze": 2.5}, "key 'freeze' expects an integer, got 2.5"),
        ({"class_weights": "yes"}, "key 'class_weights' expects true/false"),
        ({"eval_strategy": "sometimes"}, "key 'eval_strategy' expects one of no, steps, epoch"),
        ({"eval_split": "test"}, "key 'eval_split' expects one of glue_dev, holdout"),
        ({"class_weight_values": [1, "a"]}, "key 'class_weight_values' expects a list of a number or null"),
        ({"evaluation_strategy": "epoch"}, "'evaluation_strategy' is not an option in transformers 5; use 'eval_strategy'"),
        ({"group_by_length": True}, "use 'train_sampling_strategy' with the value \"group_by_length\""),
        ({"warmup_ratio": 0.1}, "use 'warmup_steps' (a float below 1 is a ratio"),
        ({"no_cuda": True}, "use 'use_cpu'"),
        ({"overwrite_output_dir": True}, "'overwrite_output_dir' is not an option in transformers 5; use 'overwrite_run'"),
        ({"recipe": "other.json"}, "unknown key 'recipe': a recipe cannot name another recipe"),
        (["a list"], "a recipe is a JSON object"),
    ],
)
def test_bad_recipes_name_the_key_and_the_file(tmp_path, content, message):
    recipe = tmp_path / "bad.json"
    recipe.write_text(json.dumps(content))
    with pytest.raises(CliError) as error:
        parse_args(["--recipe", str(recipe)])
    assert str(error.value).startswith(f"{recipe}: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unreadable_and_invalid_recipes(tmp_path):
    with pytest.raises(CliError, match=r"cannot read recipe .*missing.json"):
        parse_args(["--recipe", str(tmp_path / "missing.json")])
    broken = tmp_path / "broken.json"
    broken.write_text('{"freeze": 2,}')
    with pytest.raises(CliError, match=r"broken.json: not valid JSON"):
        parse_args(["--recipe", str(broken)])


@pytest.mark.parametrize("flag, hint", [("--evaluation_strategy", "eval_strategy"), ("--no_cuda", "use_cpu"),
                                        ("--group-by-length", "train_sampling_strategy")])
def test_renamed_flags_on_the_command_line(flag, hint):
    with pytest.raises(CliError, match=f"not an option in transformers 5; use '{hint}'"):
        parse_args([flag, "epoch"])


def test_unknown_options_are_refused():
    with pytest.raises(CliError, match=r"^unknown option\(s\): --frezee \(did you mean --freeze\?\) \(see --help\)$"):
        parse_args(["--frezee", "2"])


def test_the_trainers_do_flags_are_refused_not_ignored(tmp_path):
    for flag in ("--do_train", "--do_eval", "--do_predict"):
        with pytest.raises(CliError, match=f"^{flag} is not used: train.py "):
            parse_args([flag])
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"do_predict": True}))
    with pytest.raises(CliError, match=f"^{recipe}: 'do_predict' is not used: train.py classifies a test split"):
        parse_args(["--recipe", str(recipe)])
    recipe.write_text(json.dumps({"do_train": False, "do_eval": True, "do_predict": False}))  # an older run_config.json
    assert "do_eval" not in resolved_config(parse_args(["--recipe", str(recipe)]))


def test_help_lists_the_suites_options_before_the_trainers():
    text = RecipeParser().format_help()
    assert text.startswith("usage: train.py [--recipe FILE.json] [--OPTION VALUE ...]")
    heads = [line for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert heads == ["options:", "model:", "data:", "training:", "recipe:", "Hugging Face Trainer options:"]
    suite, trainer = text.split("Hugging Face Trainer options:")
    assert "--freeze FREEZE" in suite and "--overwrite_run" in suite and "--learning_rate" in suite  # a suite default
    assert "--adam_beta1" in trainer and "--adam_beta1" not in suite and "--do_train" not in text


def test_resolved_config_is_written_and_is_itself_a_valid_recipe(tmp_path):
    config = parse_args(["--freeze", "3", "--learning_rate", "7e-5", "--output_dir", str(tmp_path)])
    path = write_resolved_config(resolved_config(config), tmp_path)
    assert path.name == RESOLVED_CONFIG_FILE
    written = json.loads(path.read_text())
    assert written == {"schema_version": 2, **json.loads(json.dumps(resolved_config(config)))}
    assert written["freeze"] == 3 and written["learning_rate"] == 7e-5 and written["max_length"] == 64
    again = parse_args(["--recipe", str(path)])
    assert again.training.freeze == 3 and again.training.learning_rate == 7e-5


@pytest.mark.slow
def test_help_documents_the_suite_options():
    out = subprocess.run([sys.executable, "train.py", "--help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for option in ("--recipe", "--freeze", "--no-class-weights", "--class_weight_values", "--data_dir", "--eval_split",
                   "--model_name_or_path", "--no_decay_patterns", "--decay_embeddings", "--max_length"):
        assert option in out, option
    assert "(default: outputs/cola)" in out


def test_explicit_options_are_the_ones_the_recipe_or_the_command_line_set(tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"learning_rate": 3e-5}))
    # --freeze 0 equals the default and still counts: resuming must know the user asked for it.
    config = parse_args(["--recipe", str(recipe), "--freeze", "0", "--no-class-weights", "--seed=4"])
    assert config.explicit == {"recipe", "learning_rate", "freeze", "class_weights", "seed"}
    assert parse_args([]).explicit == set()


def test_a_key_given_twice_in_a_recipe_is_refused(tmp_path):
    recipe = tmp_path / "twice.json"
    recipe.write_text('{"learning_rate": 1e-4, "freeze": 2, "learning_rate": 2e-5}')
    with pytest.raises(CliError) as error:
        parse_args(["--recipe", str(recipe)])
    assert str(error.value) == f"{recipe}: key 'learning_rate' is given twice; keep one"


