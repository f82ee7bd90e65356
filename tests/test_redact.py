"""Secrets never printed or written (`cola.redact`): URL passwords and `--*_token` values in quoted commands."""

import pytest

from cola.model_card import model_card
from cola.redact import command_line, credentials_in, hide_credentials, redact_argv, scrub


@pytest.mark.parametrize("text, shown", [
    ("postgresql://ana:pw@db.lab:5432/cola", "postgresql://ana:***@db.lab:5432/cola"),
    ("postgresql+psycopg2://ana:p:w@x@db/cola", "postgresql+psycopg2://ana:***@db/cola"),  # ':' and '@' inside
    ("open mysql://u:secret@h/db failed; retry mysql://v:other@h/db", "open mysql://u:***@h/db failed; retry mysql://v:***@h/db"),
    ("sqlite:///outputs/search/search.db", "sqlite:///outputs/search/search.db"),  # nothing to hide
    ("postgresql://ana@db/cola", "postgresql://ana@db/cola"),
    ("https://huggingface.co/x:y", "https://huggingface.co/x:y"),
])
def test_url_passwords_are_hidden(text, shown):
    assert hide_credentials(text) == shown


@pytest.mark.parametrize("text, shown", [
    # a password in a URL's query string (libpq, SQLAlchemy), any case, with more parameters after it
    ("postgresql://db/cola?user=ana&password=hunter22&sslmode=require",
     "postgresql://db/cola?user=ana&password=***&sslmode=require"),
    ("postgresql://db/cola?PASSWORD=hunter22", "postgresql://db/cola?PASSWORD=***"),
    ("mysql+pymysql://ana@db/cola?passwd=hunter22", "mysql+pymysql://ana@db/cola?passwd=***"),
    ("postgresql://db/cola?sslpassword=hunter22", "postgresql://db/cola?sslpassword=***"),
    # libpq's keyword DSN, quoted or not; ODBC's ';'-separated form
    ("host=db user=ana password=hunter22 dbname=cola", "host=db user=ana password=*** dbname=cola"),
    ("host=db password='hunter 22' dbname=cola", "host=db password=*** dbname=cola"),
    ("Server=db;Uid=ana;Pwd=hunter22;", "Server=db;Uid=ana;Pwd=***;"),
    ("token = hf_abc", "token = ***"),
    # not credentials
    ("bypass=1 passage=2 --learning_rate=3e-5", "bypass=1 passage=2 --learning_rate=3e-5"),
])
def test_every_credential_form_the_drivers_take_is_hidden(text, shown):
    assert hide_credentials(text) == shown
    assert all(secret not in hide_credentials(text) for secret in credentials_in(text) if secret not in shown)


def test_a_percent_encoded_password_is_hidden_decoded_too():
    url = "postgresql://ana:p%40ss%3Aword@db/cola?password=x%20y"
    assert set(credentials_in(url)) == {"p%40ss%3Aword", "p@ss:word", "x%20y", "x y"}
    assert scrub("auth failed for 'p@ss:word' and 'x y'", url) == "auth failed for '***' and '***'"


def test_command_lines_hide_tokens_and_url_passwords():
    argv = ["--hub_token", "hf_abc", "--storage", "postgresql://a:b@h/c", "--token=hf_x", "--learning_rate", "1e-4"]
    assert redact_argv(argv) == ["--hub_token", "***", "--storage", "postgresql://a:***@h/c", "--token=***",
                                 "--learning_rate", "1e-4"]
    assert command_line("python train.py", ["--text_column", "my text"]) == "python train.py --text_column 'my text'"


def test_scrub_hides_a_password_quoted_on_its_own():
    url = "postgresql://ana:hunter22@db/cola"
    assert credentials_in(url) == ["hunter22"] and credentials_in("sqlite:///x.db") == []
    assert scrub(f"{url}: password 'hunter22' rejected", url) == (
        "postgresql://ana:***@db/cola: password '***' rejected")


def test_the_model_card_never_holds_a_hub_token(trained_run):
    import json

    results = json.loads((trained_run / "results.json").read_text())
    card = model_card(results, argv=("--hub_token", "hf_SECRET", "--push_to_hub"), output_dir=str(trained_run))
    assert "hf_SECRET" not in card and "python train.py --hub_token *** --push_to_hub" in card


@pytest.mark.parametrize("flag", ["--hub_tok", "--hub_to", "--hub_t"])
def test_an_abbreviated_option_is_refused_and_its_value_never_shown(flag, tmp_path, capsys):
    """argparse would take --hub_tok for --hub_token, past every check made by the option's name (its redaction in
    the model card among them): options are taken whole, and an unknown option's value is never echoed."""
    import train

    assert train.main([flag, "hf_SECRET", "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: unknown option(s): {flag} (did you mean --hub_token?) (see --help)\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, message", [
    (["--learning_rat", "1e-4"], "unknown option(s): --learning_rat (did you mean --learning_rate?)"),
    (["--freez", "2"], "unknown option(s): --freez (did you mean --freeze?)"),
    (["--seed", "1", "stray"], "1 value(s) with no option before them"),
])
def test_a_mistyped_option_gets_a_did_you_mean(argv, message, capsys):
    import train

    assert train.main(argv) == 2
    assert capsys.readouterr().err.startswith(f"error: {message}")


def test_a_hub_token_leaves_the_arguments_for_the_environment(monkeypatch):
    """--hub_token goes to HF_TOKEN (where huggingface_hub reads it); the arguments, pickled into every
    checkpoint's training_args.bin, never hold it."""
    import pickle

    from cola.recipes import parse_args

    monkeypatch.delenv("HF_TOKEN", raising=False)
    config = parse_args(["--hub_token", "hf_SECRET", "--output_dir", "outputs/x"])
    assert config.training.hub_token is None and b"hf_SECRET" not in pickle.dumps(config.training)
    import os

    assert os.environ["HF_TOKEN"] == "hf_SECRET"


def test_the_process_command_line_is_scrubbed_after_parsing(monkeypatch, tmp_path):
    """W&B records sys.argv: train.py hides the token in it as soon as the options are parsed."""
    import sys

    import train

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(sys, "argv", ["train.py", "--hub_token=hf_SECRET", "--output_dir", str(tmp_path / "o"),
                                      "--max_steps", "0"])
    train.main()
    assert sys.argv == ["train.py", "--hub_token=***", "--output_dir", str(tmp_path / "o"), "--max_steps", "0"]


@pytest.mark.parametrize("value, shown, secrets", [
    ("postgresql://ana:hunter two2@db/cola", "postgresql://ana:***@db/cola", {"hunter two2"}),
    ("postgresql://db/cola?password=hunter two2&sslmode=require", "postgresql://db/cola?password=***&sslmode=require",
     {"hunter two2"}),
    ("postgresql://db/cola?password=hunter+two2", "postgresql://db/cola?password=***", {"hunter+two2", "hunter two2"}),
    ("--storage=mysql://u:a b@c@h/db", "--storage=mysql://u:***@h/db", {"a b@c"}),
    ("host=db password=x dbname=cola", "host=db password=*** dbname=cola", {"x"}),  # a DSN: spaces separate
])
def test_one_value_hides_its_credential_through_spaces(value, shown, secrets):
    """A command line's word or a storage URL is one value: its password runs on through spaces (to the last '@',
    or to the query's next '&'); free text still ends one at white space, as nothing else marks its end there."""
    assert redact_argv([value]) == [shown]
    assert secrets <= set(credentials_in(value))
    assert scrub(f"driver: password '{sorted(secrets)[0]}' refused", value) == "driver: password '***' refused"


@pytest.mark.parametrize("argv", [
    ["--hub_model_id", "ana:hf_SECRET@org/model"],
    ["--hub_model_id", "https://ana:hf_SECRET@huggingface.co/org/model"],
    ["--run_name", "https://ana:hf_SECRET x@host/path"],
    ["--model_name_or_path", "https://host/model?token=hf_SECRET"],
    ["--no_decay_patterns", "*.bias", "postgresql://a:hf_SECRET@h/db"],
])
def test_an_option_that_carries_a_credential_is_refused_unechoed(argv, tmp_path, capsys):
    """Every option is written into run_config.json, results.json, the card and training_args.bin: one that carries
    a password or token (a Hub id with `user:TOKEN@`) is refused before anything is written, the value unquoted."""
    import train

    assert train.main([*argv, "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "hf_SECRET" not in err
    assert argv[0].lstrip("-") in err and not (tmp_path / "out").exists()


def test_a_recipe_whose_hub_model_id_carries_a_token_is_refused(tmp_path, capsys):
    import json

    import train

    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"hub_model_id": "ana:hf_SECRET@org/model"}))
    assert train.main(["--recipe", str(recipe), "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "hub_model_id takes a Hub repository id" in err and "hf_SECRET" not in err
