"""The columns every split has once loaded, whatever its source (CoLA's TSVs, your files, a Hub dataset).

Defined here once and imported by the loaders, config, metrics, the trainer and the tests.
"""

TEXT, TEXT_PAIR = "text", "text_pair"  # the text to classify, and the second text of a sentence-pair task
LABEL, GROUP = "labels", "group"  # the class id (0..k-1), and the id of the example's group (CoLA: its domain)
# Columns the Trainer treats as labels (its `label_names`): the class and the example's group, so the metrics can be
# split per group whatever order the predictions come back in (length-grouped batches, distributed gather).
LABEL_COLUMNS = (LABEL, GROUP)
# Columns that travel with a batch but never reach the model's forward(): the labels and the length that
# length-grouped sampling reads.
NON_MODEL_COLUMNS = (*LABEL_COLUMNS, "length")
