"""The names of the files a run writes into its output folder: one home, imported by every module that writes,
reads, finds or deletes them (the folder lock, resuming, sweeps, compare, the search), never spelled again.
"""

RESULTS_FILE = "results.json"  # metrics and the run's report (cola.results); a sweep's summary at its top
RESOLVED_CONFIG_FILE = "run_config.json"  # every option's final value, itself a recipe (cola.recipes)
CARD_FILE = "README.md"  # the model card (cola.model_card)
TEST_PREDICTIONS_FILE = "test_predictions.csv"  # one row per test row (cola.predict)
EVAL_PREDICTIONS_FILE = "eval_predictions.csv"  # one row per evaluation row: the final evaluation's (cola.predict)
SUITE_STATE_FILE = "cola_suite.json"  # in each checkpoint, written last: its completion mark (cola.checkpoints)
LOCK_FILE = ".cola-suite.lock"  # held while a run works in the folder (cola.output_dir)
RECORD_FILE = ".cola-suite-run.json"  # what was there before the run, and what it added (cola.output_dir)
# The saved model's weights (written by the Trainer): with results.json, what says a run finished here.
WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
ADAPTER_DIR = "adapter"  # a LoRA run's adapter, beside the merged model (cola.lora)
