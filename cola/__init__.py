"""Fine-tune BERT-family encoders on CoLA with the Hugging Face Trainer.

One module per idea: `config` (arguments and recipes), `data` (CoLA TSVs to tokenized datasets), `model`
(resolving and loading checkpoints), `freezing` (layer groups), `param_groups` (optimizer groups),
`class_weights`, `trainer` (loss and optimizer), `metrics`, `results` (results.json and the start summary).
"""

__version__ = "0.1.0"
