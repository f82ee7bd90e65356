"""The command line of training: parse, then one run or a sweep of seeds. `python train.py ...` and
`python -m cola ...` run this same `main` (train.py is its run book).

The run itself (`cola.run.train_and_report`) and the sweep (`cola.experiments.seeds.run_seeds`) are imported only
once the options parse: `--help` and a mistyped option answer in about 4 s instead of 10 (measured with
`time python train.py --help`); the Trainer, scikit-learn and datasets make up the difference.
"""

from __future__ import annotations

import logging
import sys

from .errors import CliError, reports_errors
from .recipes import parse_args
from .redact import redact_argv


@reports_errors
def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        config = parse_args(argv)
        if argv is None:  # W&B records the process's command line: from here on it holds no credential
            sys.argv[1:] = redact_argv(sys.argv[1:])
        if config.training.seeds:
            from .experiments.seeds import run_seeds

            return run_seeds(config)
        from .run import train_and_report

        return train_and_report(config)
    except KeyboardInterrupt:
        raise CliError("interrupted; no results.json was written (continue with --resume_from_checkpoint last "
                       "if a checkpoint was saved)", exit_code=130) from None
