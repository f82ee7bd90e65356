"""What a search leaves in its folder, rewritten after every trial (each file replaced atomically):

- best_recipe.json: the best trial as a recipe (`python train.py --recipe best_recipe.json --seeds ...` reruns it);
- trials.json: every trial (number, state, parameters, score, in- and out-of-domain figures, error, worker, times);
- report.md: the best trial, the top trials with in-domain and out-of-domain medians and IQR, degenerate runs and
  training time, parameter importances (once Optuna can compute them), failed trials with their errors, and every
  trial with the best score so far;
- report.png: each trial's score over time, the best so far, and out-of-domain MCC beside it (never used).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import optuna
from matplotlib.figure import Figure
from optuna.trial import TrialState

from ..errors import on_one_line
from ..files import write_atomic

TOP = 10


def trial_recipe(fixed: dict, params: dict, description: str) -> dict:
    """A trial as a recipe: the options every trial shares, then the trial's own."""
    return {"description": description, **fixed, **params}


def trial_rows(study: optuna.Study) -> list[dict]:
    """Every trial as a plain dict (trials.json's rows)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        duration = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        rows.append({
            "number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
            "datetime_start": t.datetime_start.isoformat() if t.datetime_start else None,
            "datetime_complete": t.datetime_complete.isoformat() if t.datetime_complete else None,
            "duration_s": duration, **t.user_attrs,
            # the trial this one runs again: stopped by Ctrl-C/SIGTERM (retry_of), or its worker died (Optuna's
            # heartbeat retry records the failed trial's number)
            "retry_of": t.user_attrs.get("retry_of", t.system_attrs.get("failed_trial")),
        })
    return rows


def write_outputs(study: optuna.Study, output_dir: Path, *, fixed: dict, seeds: list[int], objective: str,
                  command: str) -> None:
    rows = trial_rows(study)
    complete = sorted((r for r in rows if r["state"] == "COMPLETE"), key=lambda r: -r["value"])
    importances = param_importances(study)
    write_atomic(output_dir / "trials.json", json.dumps({
        "study": study.study_name, "command": command, "objective": objective, "seeds": seeds, "fixed": fixed,
        "importances": importances, "trials": rows,
    }, indent=2) + "\n")
    write_atomic(output_dir / "report.md", markdown(study.study_name, rows, complete, importances, fixed=fixed, seeds=seeds,
                                              objective=objective, command=command))
    if complete:
        best = complete[0]
        description = (f"Best trial ({best['number']}) of the search study '{study.study_name}': median "
                       f"{objective} {best['value']:.4f} over seeds {' '.join(map(str, seeds))}"
                       + _ood_text(best) + f". Made by: {command}; report: {output_dir / 'report.md'}.")
        recipe = trial_recipe(fixed, best["params"], description) | {"output_dir": f"outputs/{study.study_name}-best"}
        write_atomic(output_dir / "best_recipe.json", json.dumps(recipe, indent=2) + "\n")
    fig = figure(rows, objective)
    write_atomic(output_dir / "report.png", lambda path: fig.savefig(path, dpi=110, format="png"))


def param_importances(study: optuna.Study) -> dict | str:
    """fANOVA importances of the searched options for the score, or why there are none yet."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 3:
        return "not yet: fewer than 3 complete trials"
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return {k: round(v, 4) for k, v in optuna.importance.get_param_importances(study, evaluator=evaluator).items()}
    except (ValueError, RuntimeError) as error:  # e.g. every trial took the same value of some option
        return f"not computable: {on_one_line(error)}"


def markdown(name: str, rows: list[dict], complete: list[dict], importances, *, fixed: dict, seeds: list[int],
             objective: str, command: str) -> str:
    failed = [r for r in rows if r["state"] == "FAIL"]
    unfinished = [r for r in rows if r["state"] in ("RUNNING", "WAITING")]
    params = list(dict.fromkeys(k for r in rows for k in r["params"]))
    train_s = sum(r.get("train_runtime_s", 0) * len(seeds) for r in complete)
    lines = [
        f"# Search study '{name}'", "",
        f"Made by: `{command}`", "",
        f"Score: the median over seeds {', '.join(map(str, seeds))} of **{objective}** (maximised). "
        + ("Out-of-domain MCC is shown beside it and never makes a choice (not the score, not a run's checkpoint)."
           if objective.startswith("in_domain_") else "Scored on the whole evaluation set."), "",
        f"Trials: {len(complete)} complete, {len(failed)} failed "
        f"({sum(1 for r in failed if r.get('interrupted'))} of them interrupted and queued again), "
        f"{len(unfinished)} running or queued. Training time of the complete trials: {train_s / 3600:.2f} h "
        "(median per seed times seeds).", "",
        "Fixed for every trial: " + ", ".join(f"`{k}={json.dumps(v)}`" for k, v in fixed.items() if k not in params)
        + " (the recipe's own values for the searched options: the first trial, when they lie in the space)", "",
        "![score per trial](report.png)", "",
    ]
    if complete:
        best = complete[0]
        lines += [f"## Best: trial {best['number']}, {best['value']:.4f}", "",
                  "`" + ", ".join(f"{k}={_fmt(v)}" for k, v in best["params"].items()) + "` (best_recipe.json; rerun it "
                  f"with `python train.py --recipe best_recipe.json --seeds {' '.join(map(str, seeds))}`)", ""]
    lines += [f"## Top {min(TOP, len(complete))} trials", "",
              "| trial | score | in-domain MCC median (IQR) | out-of-domain MCC median (IQR) | whole dev set MCC median | "
              "degenerate seeds | train s per seed | " + " | ".join(params) + " |",
              "|---" * (7 + len(params)) + "|"]
    for r in complete[:TOP]:
        lines.append(f"| {r['number']}{' (recipe)' if r.get('baseline') else ''} | {r['value']:.4f} | "
                     f"{_iqr(r.get('in_domain_mcc'))} | {_iqr(r.get('out_of_domain_mcc'))} | "
                     f"{_median(r.get('glue_dev_mcc'))} | {', '.join(map(str, r.get('degenerate_runs', []))) or '-'} | "
                     f"{r.get('train_runtime_s', 0):.0f} | " + " | ".join(_fmt(r["params"].get(p)) for p in params) + " |")
    lines += ["", "## Parameter importances (fANOVA)", ""]
    if isinstance(importances, dict):
        lines += [f"- {k}: {v:.3f}" for k, v in importances.items()]
    else:
        lines.append(importances)
    if failed:
        lines += ["", "## Failed trials", "", "| trial | why |", "|---|---|"]
        lines += [f"| {r['number']} | {_failure(r)} |" for r in failed]
    lines += ["", "## Every trial, in order", "", "| trial | state | score | best so far | minutes | worker | runs again |",
              "|---|---|---|---|---|---|---|"]
    best_so_far = None
    for r in rows:
        if r["state"] == "COMPLETE":
            best_so_far = r["value"] if best_so_far is None else max(best_so_far, r["value"])
        score = f"{r['value']:.4f}" if r["value"] is not None else "-"
        minutes = f"{r['duration_s'] / 60:.1f}" if r["duration_s"] is not None else "-"
        again = "-" if r.get("retry_of") is None else f"trial {r['retry_of']}"
        lines.append(f"| {r['number']} | {r['state'].lower()} | {score} | "
                     f"{'-' if best_so_far is None else f'{best_so_far:.4f}'} | {minutes} | {r.get('worker', '-')} | {again} |")
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], objective: str) -> Figure:
    """Each complete trial's score at the time it finished, the best so far as a step line, failures as crosses."""
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    finished = sorted((r for r in rows if r["datetime_complete"]), key=lambda r: r["datetime_complete"])
    if finished:
        start = min(r["datetime_start"] for r in rows if r["datetime_start"])
        hours = {r["number"]: _hours_between(start, r["datetime_complete"]) for r in finished}
        complete = [r for r in finished if r["state"] == "COMPLETE"]
        ax.scatter([hours[r["number"]] for r in complete], [r["value"] for r in complete], color="tab:blue", zorder=3,
                   label=f"trial score (median {objective})")
        ood = [r for r in complete if r.get("out_of_domain_mcc")]
        ax.scatter([hours[r["number"]] for r in ood], [r["out_of_domain_mcc"]["median"] for r in ood], color="tab:gray",
                   marker="^", alpha=0.6, label="out-of-domain MCC median (never used)")
        ax.scatter([hours[r["number"]] for r in ood], [r["glue_dev_mcc"]["median"] for r in ood], color="tab:green",
                   marker="s", alpha=0.6, label="GLUE dev MCC median (both halves; reported only)")
        best, xs, ys = None, [], []
        for r in complete:
            best = r["value"] if best is None else max(best, r["value"])
            xs.append(hours[r["number"]])
            ys.append(best)
        ax.step(xs, ys, where="post", color="tab:orange", label="best so far")
        low = min([r["value"] for r in complete] + [r["out_of_domain_mcc"]["median"] for r in ood] or [0])
        failed = [r for r in finished if r["state"] == "FAIL"]
        if failed:
            ax.scatter([hours[r["number"]] for r in failed], [low] * len(failed), color="tab:red", marker="x",
                       label="failed trial")
        for r in complete:
            ax.annotate(str(r["number"]), (hours[r["number"]], r["value"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xlim(left=0)
    ax.set_xlabel("hours since the study's first trial started (all workers)")
    ax.set_ylabel("score")
    ax.grid(alpha=0.3)
    if finished:
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Search: score per trial over time")
    fig.tight_layout()
    return fig


def _hours_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 3600


def _failure(row: dict) -> str:
    if row.get("interrupted"):
        return "interrupted (queued again)"
    return row.get("error", "its worker stopped answering (no heartbeat); queued again")


def _ood_text(row: dict) -> str:
    ood = row.get("out_of_domain_mcc")
    return f" (out-of-domain MCC median {ood['median']:.4f}, never used for a choice)" if ood else ""


def _iqr(stats: dict | None) -> str:
    return f"{stats['median']:.3f} ({stats['q1']:.3f}-{stats['q3']:.3f})" if stats else "n/a"


def _median(stats: dict | None) -> str:
    return f"{stats['median']:.3f}" if stats else "n/a"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "-" if value is None else str(value)
