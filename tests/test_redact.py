"""Secrets never printed or written (`cola.redact`): URL passwords and `--*_token` values in quoted commands."""

import pytest

from cola.model_card import model_card
from cola.redact import command_line, hide_url_passwords, redact_argv, scrub, url_password


@pytest.mark.parametrize("text, shown", [
    ("postgresql://ana:pw@db.lab:5432/cola", "postgresql://ana:***@db.lab:5432/cola"),
    ("postgresql+psycopg2://ana:p:w@x@db/cola", "postgresql+psycopg2://ana:***@db/cola"),  # ':' and '@' inside
    ("open mysql://u:secret@h/db failed; retry mysql://v:other@h/db", "open mysql://u:***@h/db failed; retry mysql://v:***@h/db"),
    ("sqlite:///outputs/search/search.db", "sqlite:///outputs/search/search.db"),  # nothing to hide
    ("postgresql://ana@db/cola", "postgresql://ana@db/cola"),
    ("https://huggingface.co/x:y", "https://huggingface.co/x:y"),
])
def test_url_passwords_are_hidden(text, shown):
    assert hide_url_passwords(text) == shown


def test_command_lines_hide_tokens_and_url_passwords():
    argv = ["--hub_token", "hf_abc", "--storage", "postgresql://a:b@h/c", "--token=hf_x", "--learning_rate", "1e-4"]
    assert redact_argv(argv) == ["--hub_token", "***", "--storage", "postgresql://a:***@h/c", "--token=***",
                                 "--learning_rate", "1e-4"]
    assert command_line("python train.py", ["--text_column", "my text"]) == "python train.py --text_column 'my text'"


def test_scrub_hides_a_password_quoted_on_its_own():
    url = "postgresql://ana:hunter22@db/cola"
    assert url_password(url) == "hunter22" and url_password("sqlite:///x.db") is None
    assert scrub(f"{url}: password 'hunter22' rejected", url_password(url)) == (
        "postgresql://ana:***@db/cola: password '***' rejected")


def test_the_model_card_never_holds_a_hub_token(trained_run):
    import json

    results = json.loads((trained_run / "results.json").read_text())
    card = model_card(results, argv=("--hub_token", "hf_SECRET", "--push_to_hub"), output_dir=str(trained_run))
    assert "hf_SECRET" not in card and "python train.py --hub_token *** --push_to_hub" in card
