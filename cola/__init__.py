"""Fine-tune BERT-family encoders on CoLA with the Hugging Face Trainer.

The one-run core, one module per idea: `config` (the options), `recipes` (recipes and flags -> a run's
configuration, run_config.json), `precision` (what `--precision auto` picks), `data` (CoLA TSVs -> tokenized
datasets, and the label columns), `model` (the model loader), `freezing` (layer groups), `param_groups`
(optimizer groups), `class_weights`, `loss`, `trainer` (the Trainer subclass and `build_trainer`), `metrics`,
`checkpoints` (resuming), `unfreezing` (gradual unfreezing), `tracking` (W&B), `results` (results.json),
`predict`, `errors`. Tools around runs (seeds, compare, bench) live in `cola.experiments`.
"""

__version__ = "0.1.0"
