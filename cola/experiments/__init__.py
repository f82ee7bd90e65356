"""Tools around runs, apart from the one-run core in `cola`: they build runs as train.py does (`cola.run`).

- `seeds`: one configuration over several seeds (train.py --seeds), and the sweep's summary results.json;
- `stats`: the per-run entries and across-seed statistics that `seeds` and `compare` share;
- `compare`: `python -m cola.experiments.compare RUN_DIR ... --out DIR`, the report over run folders;
- `bench`: `python -m cola.experiments.bench`, the speed benchmark of train.py's path against the baselines;
- `profile_step`: `python -m cola.experiments.profile_step`, where a bench row's step time goes;
- `search`: `python -m cola.experiments.search`, Optuna over train.py options, each trial a sweep of seeds;
  `search_space` reads its space file, `study_storage` opens its study on a database, `trials` runs each trial's
  child process, `search_report` writes what it leaves behind.
"""
