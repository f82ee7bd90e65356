"""The search's study on a database (Optuna's RDB storage: SQLite by default, PostgreSQL or MySQL): its URL and
driver checked before anything is created, the study opened (two workers creating one database at once retry), and
every error worded with the URL's password hidden (`cola.redact`).
"""

from __future__ import annotations

import time
import warnings

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from ..errors import CliError, on_one_line
from ..redact import hide_credentials_in_value, scrub

HEARTBEAT_S, STALE_AFTER_S = 60, 300  # a worker silent this long is taken for dead and its trial re-queued


def open_study(args, storage_url: str):
    """Create the study, or load it to continue; refused if it was started with a different search."""
    if args.sampler == "tpe":
        sampler = optuna.samplers.TPESampler(n_startup_trials=args.startup_trials, seed=args.sampler_seed)
    else:
        sampler = optuna.samplers.RandomSampler(seed=args.sampler_seed)
    engine_kwargs = {"connect_args": {"timeout": 60}} if storage_url.startswith("sqlite") else {}
    for attempt in range(RACE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat options
                storage = RDBStorage(storage_url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S,
                                     grace_period=STALE_AFTER_S,
                                     heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1))
            return optuna.create_study(study_name=args.study, storage=storage, sampler=sampler, direction="maximize",
                                       load_if_exists=True)
        except (ValueError, ImportError, optuna.exceptions.StorageInternalError) as error:
            raise CliError(_open_error(storage_url, error)) from None
        except Exception as error:  # SQLAlchemy's own: a bad URL, a server that is not there, or a race
            if not type(error).__module__.startswith("sqlalchemy"):
                raise
            if attempt == RACE_ATTEMPTS - 1 or not _creation_race(error):
                raise CliError(_open_error(storage_url, error)) from None
            # Two workers creating a new database at once: one creates the tables, the other's CREATE fails
            # ("table studies already exists"); a moment later the tables are there and opening succeeds.
            time.sleep(1 + attempt)


RACE_ATTEMPTS = 4


def _creation_race(error: Exception) -> bool:
    """Whether SQLAlchemy's error is another worker creating the same tables at the same moment. SQLite says so
    with an OperationalError ("table ... already exists", or "database is locked"); PostgreSQL with an
    IntegrityError (a duplicate key in its catalogue) or a ProgrammingError ("relation ... already exists", SQLSTATE
    42P07). The other Operational and Programming errors are the user's to fix (a server that is not there, a
    password refused, a permission missing): one line at once, not after the retries' wait."""
    kind, message = type(error).__name__, str(error)
    if kind == "IntegrityError":
        return True
    return kind in ("OperationalError", "ProgrammingError") and ("already exists" in message or "locked" in message)


# The drivers the extras install (postgresql:// uses psycopg by default; MySQL through mysql+pymysql://), and the pip
# package of the other driver modules SQLAlchemy may ask for.
EXTRAS = {"psycopg": "postgres", "pymysql": "mysql"}
DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "pymysql": "pymysql",
                   "MySQLdb": "mysqlclient", "asyncpg": "asyncpg"}


def check_storage(storage_url: str, shown_url: str) -> None:
    """Before anything is created: the storage URL parses and its driver is installed, else one line naming the
    package to install (Optuna's own message, "Failed to import DB access module", names none)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(storage_url)
        dialect = url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as error:
        why = scrub(on_one_line(error), storage_url)
        raise CliError(f"--storage {shown_url}: not a database URL SQLAlchemy knows ({why}); e.g. sqlite:///search.db, "
                       f"postgresql://USER:PASSWORD@HOST/DB, mysql+pymysql://USER:PASSWORD@HOST/DB") from None
    try:
        dialect.import_dbapi()
    except ImportError as error:
        module = (error.name or "?").split(".")[0]
        how = (f'pip install -e ".[{EXTRAS[module]}]"' if module in EXTRAS else
               f"pip install {DRIVER_PACKAGES.get(module, module)}")
        also = ' (or mysql+pymysql://..., with pip install -e ".[mysql]")' if url.get_backend_name() == "mysql" and \
            module != "pymysql" else ""
        raise CliError(f"--storage {shown_url}: the {url.drivername} driver is not installed (no module '{module}'): "
                       f"{how}{also}") from None


def _open_error(storage_url: str, error: BaseException) -> str:
    # The URL's password never reaches the terminal, even where a driver's message quotes it.
    return f"cannot open the study in {hide_credentials_in_value(storage_url)}: {scrub(on_one_line(error), storage_url)}"
