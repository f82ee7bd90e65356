"""The command line of training: parse, then one run or a sweep of seeds. `python train.py ...` and
`python -m cola ...` run this same `main` (train.py is its run book).

The run itself (`cola.run.train_and_report`) and the sweep (`cola.experiments.seeds.run_seeds`) are imported only
once the options parse: `--help` and a mistyped option answer in about 4 s instead of 10 (measured with
`time python train.py --help`); the Trainer, scikit-learn and datasets make up the difference.
"""

from __future__ import annotations

import logging
import os
import sys

from .errors import CliError, reports_errors
from .recipes import parse_args
from .redact import redact_argv
from .training_options import lone_process_threads


@reports_errors
def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    try:
        config = parse_args(argv)
        use_every_core()
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


def use_every_core() -> None:
    """A lone CPU process that `accelerate launch` held to one thread gets every core (`lone_process_threads`)."""
    import psutil
    import torch

    threads = lone_process_threads(os.environ, cores=psutil.cpu_count(logical=False), gpu=torch.cuda.is_available())
    if threads:
        logging.getLogger(__name__).info("accelerate launch gave this lone CPU process one thread (OMP_NUM_THREADS=1); "
                                         "it uses %d, one per core, as torchrun would", threads)
        torch.set_num_threads(threads)
