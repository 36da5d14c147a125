"""The ``churn-platform`` command: simulate a company, materialize the pipeline, open the UIs."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from churn_platform.lib.environment import prepare_dagster_home, quiet_telemetry
from churn_platform.settings import PROJECT_ROOT, Settings, get_settings

app = typer.Typer(
    help="Churn Platform: predict who will leave, explain why, decide who to save and how, and measure it.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console()


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


@app.command()
def simulate(
    customers: Annotated[int, typer.Option(help="Accounts over the whole window.")] = 3000,
    start: Annotated[
        str, typer.Option(help="First month, YYYY-MM-DD (a first of the month).")
    ] = "2025-01-01",
    months: Annotated[int, typer.Option(help="Months to simulate.")] = 12,
    seed: Annotated[
        int, typer.Option(help="Random seed: same arguments and seed give identical files.")
    ] = 42,
    out: Annotated[
        Path | None,
        typer.Option(help="Root folder: landing files go to OUT/landing, ground truth to OUT/ground_truth."),
    ] = None,
    file_format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    advance_months: Annotated[
        int | None, typer.Option(help="Continue the company already simulated in OUT by this many months.")
    ] = None,
    ledger: Annotated[
        Path | None,
        typer.Option(help="Send ledger (Parquet/CSV) whose customers respond to their treatment."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Delete an existing simulation in OUT first.")] = False,
    drift: Annotated[
        str,
        typer.Option(
            help="Simulated drift: none, price_rise (MRR +25% for good, churn reacts) or outage (one month of "
            "low usage and many tickets). An advance without it keeps the saved company's drift."
        ),
    ] = "none",
    drift_month: Annotated[
        int | None,
        typer.Option(
            help="Month index (0 = START) the drift begins; default: the first advanced month, or the last month."
        ),
    ] = None,
) -> None:
    """Simulate a subscription company: landing files in the data contract, plus the ground truth."""
    from pydantic import ValidationError

    from churn_platform.simulate.config import SimulationConfig
    from churn_platform.simulate.engine import simulate as run_simulation

    settings = get_settings()
    landing = out / "landing" if out else settings.landing
    truth = out / "ground_truth" if out else settings.ground_truth
    default_ledger = settings.data_dir / "exports" / "send_ledger.parquet"
    if force and advance_months is None:
        for path in (landing, truth):
            shutil.rmtree(path, ignore_errors=True)
    try:
        config = SimulationConfig(
            customers=customers,
            start=dt.date.fromisoformat(start),
            months=months,
            seed=seed,
            landing=landing,
            ground_truth=truth,
            file_format=file_format,
            ledger=ledger or (default_ledger if default_ledger.exists() else None),
            drift=drift,
            drift_month=drift_month,
        )
    except (ValidationError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    n_months = advance_months if advance_months is not None else months
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]simulating[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("months", total=n_months)

        def tick(done: int, total: int, result: object) -> None:
            progress.update(task, completed=done, description=f"batch {getattr(result, 'batch_date', '')}")

        try:
            summary = run_simulation(config, advance_months=advance_months, progress=tick)
        except (FileExistsError, FileNotFoundError, ValueError) as exc:
            raise _fail(str(exc)) from exc
    table = Table(title=f"Simulated company ({time.perf_counter() - started:.1f} s)")
    table.add_column("source")
    table.add_column("rows", justify="right")
    for name, rows in sorted(summary.rows.items()):
        table.add_row(name, f"{rows:,}")
    console.print(table)
    auc = f"{summary.oracle_auc:.3f}" if summary.oracle_auc is not None else "n/a"
    console.print(
        f"customers {summary.customers_total:,} | monthly churn {summary.churn_rate:.1%} | oracle ROC-AUC {auc}\n"
        f"landing: {summary.landing}\nground truth (never read by the pipeline): {summary.ground_truth}"
    )


@app.command()
def contract(
    write: Annotated[bool, typer.Option(help="Write docs/data-contract.md instead of printing.")] = False,
) -> None:
    """Print (or write) the landing data contract as Markdown."""
    from churn_platform.contract import render_markdown

    text = render_markdown()
    if write:
        path = PROJECT_ROOT / "docs" / "data-contract.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        console.print(f"wrote {path}")
    else:
        print(text)


@app.command()
def expectations() -> None:
    """Regenerate the contract's baseline Great Expectations suites in expectations/."""
    from churn_platform.lib.quality import write_suites

    for path in write_suites():
        console.print(f"wrote {path}")


@app.command()
def benchmark(
    csv: Annotated[Path, typer.Option(help="A customer table with one row per customer and a churn label.")],
    target: Annotated[str, typer.Option(help="The label column.")],
    positive: Annotated[str, typer.Option(help="The label value that means churned.")],
    id_column: Annotated[str | None, typer.Option("--id", help="Identifier column (not a feature).")] = None,
    drop: Annotated[list[str] | None, typer.Option(help="Columns to leave out (repeatable).")] = None,
    folds: Annotated[int, typer.Option(help="Stratified k-fold cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed for folds and models.")] = 42,
    no_mlflow: Annotated[bool, typer.Option("--no-mlflow", help="Do not log the runs to MLflow.")] = False,
) -> None:
    """Run the platform's training and evaluation on any customer CSV (k-fold CV), one row per model."""
    from ml.benchmark import cross_validate, load_customer_table
    from ml.models import MODEL_KINDS

    settings = get_settings()
    quiet_telemetry()
    try:
        table = load_customer_table(csv, target, positive, id_column, tuple(drop or ()))
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"[bold]{table.name}[/]: {len(table.y):,} rows, {int(table.y.sum()):,} churned ({table.y.mean():.1%}), "
        f"{len(table.spec.numeric)} numeric and {len(table.spec.categorical)} categorical features"
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("cross-validating", total=folds * len(MODEL_KINDS))

        def tick(kind: str, fold: int) -> None:
            progress.update(task, advance=1, description=f"fold {fold + 1}/{folds}: {kind}")

        results = cross_validate(table, folds=folds, seed=seed, progress=tick)
    out = Table(title=f"{table.name}: {folds}-fold cross-validation (out of fold, calibrated)")
    columns = ["roc_auc", "pr_auc", "brier", "log_loss", "ece", "lift_top_decile", "recall_top_decile", "emp"]
    out.add_column("model")
    for col in columns:
        out.add_column(col, justify="right")
    for kind, metrics in results.items():
        out.add_row(kind, *(f"{metrics[c]:.4f}" for c in columns))
    console.print(out)
    if not no_mlflow:
        import mlflow

        from ml.tracking import configure, git_commit

        configure(settings.mlflow_uri, settings.mlflow_artifacts, experiment=f"benchmark-{table.name}")
        for kind, metrics in results.items():
            with mlflow.start_run(run_name=f"{table.name}-{kind}"):
                mlflow.set_tags({"model_family": kind, "dataset": str(csv), "git_commit": git_commit()})
                mlflow.log_params({"folds": folds, "seed": seed, "target": target, "rows": len(table.y)})
                mlflow.log_metrics(metrics)
        console.print(f"logged to MLflow experiment benchmark-{table.name} at {settings.mlflow_uri}")


def _environment(settings: Settings) -> None:
    import logging

    quiet_telemetry()
    for noisy in ("mlflow", "great_expectations", "alembic"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    prepare_dagster_home(settings.dagster)


def _materialize(select: Any, tags: dict[str, str] | None = None, title: str = "Materialization") -> bool:
    """Run a selection in this process, recorded in the Dagster instance; print a table of what happened."""
    import dagster as dg

    from churn_platform.definitions import defs as lazy_defs

    defs = lazy_defs()
    instance = dg.DagsterInstance.get()
    job = defs.resolve_implicit_global_asset_job_def()
    selection = (
        dg.AssetSelection.from_coercible(select).resolve(defs.resolve_asset_graph()) if select else None
    )
    started = time.perf_counter()
    console.print(f"[bold]{title}[/]: materializing {len(selection) if selection else 'all'} assets")
    result = job.execute_in_process(
        instance=instance,
        asset_selection=list(selection) if selection else None,
        raise_on_error=False,
        tags=tags,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    table = Table(title=f"{title} ({time.perf_counter() - started:.1f} s, run {result.run_id[:8]})")
    table.add_column("asset")
    table.add_column("status")
    for event in result.get_asset_materialization_events():
        key = event.asset_key.to_user_string() if event.asset_key else "?"
        table.add_row(key, "[green]materialized[/]")
    for check in result.get_asset_check_evaluations():
        if not check.passed:
            table.add_row(
                f"{check.asset_key.to_user_string()}:{check.check_name}", "[yellow]check did not pass[/]"
            )
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error  # type: ignore[union-attr]
            table.add_row(event.step_key or "?", f"[red]failed[/]: {error.message if error else ''}")
    console.print(table)
    return result.success


@app.command()
def materialize(
    select: Annotated[
        str | None, typer.Option(help="Dagster asset selection, e.g. 'group:ingest' or 'landing_files*'.")
    ] = None,
) -> None:
    """Materialize every asset (or a selection) in this process, recorded in the Dagster instance."""
    settings = get_settings()
    _environment(settings)
    if not _materialize(select):
        raise _fail("the run failed: see the table above, and the run in the Dagster UI")


def _run_campaign_sensor() -> int:
    """Evaluate the campaign sensor exactly as the daemon does, and run what it requests in this process."""
    import dagster as dg

    from churn_platform.definitions import defs as lazy_defs

    defs = lazy_defs()
    instance = dg.DagsterInstance.get()
    sensor = defs.resolve_sensor_def("campaign_sensor")
    context = dg.build_sensor_context(instance=instance, definitions=defs, sensor_name="campaign_sensor")
    requests = sensor.evaluate_tick(context).run_requests or []
    for request in requests:
        console.print(
            f"[bold]campaign_sensor[/] launches the campaign: {request.tags.get('churn/reason', '')}"
        )
        _materialize(
            dg.AssetSelection.assets("retention_targets", "campaign_sends", "send_ledger_export"),
            tags=dict(request.tags),
            title="Campaign run",
        )
    return len(requests)


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Interface to bind; localhost by default.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Dagster UI port.")] = 3000,
    mlflow_port: Annotated[int, typer.Option(help="MLflow UI port (0 to not start it).")] = 5000,
) -> None:
    """Start the Dagster UI (with the daemon for sensors and schedules) and the MLflow UI; print their addresses."""
    settings = get_settings()
    _environment(settings)
    bin_dir = Path(sys.executable).parent
    mlflow_proc = None
    if mlflow_port:
        from ml.tracking import configure

        configure(settings.mlflow_uri, settings.mlflow_artifacts)  # creates the store on a fresh machine
        mlflow_cmd = [
            str(bin_dir / "mlflow"), "server", "--backend-store-uri", settings.mlflow_uri,
            "--default-artifact-root", settings.mlflow_artifacts.as_uri(), "--host", host, "--port", str(mlflow_port),
            "--workers", "1",
        ]  # fmt: skip
        mlflow_proc = subprocess.Popen(mlflow_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        console.print(
            f"[bold green]MLflow UI:[/]  http://{host}:{mlflow_port}  (runs, registered model, champion alias)"
        )
    cmd = [
        str(bin_dir / "dagster"),
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        host,
        "-p",
        str(port),
    ]
    console.print(
        f"[bold green]Dagster UI:[/] http://{host}:{port}  (lineage, runs, checks; Ctrl-C stops everything)"
    )
    os.chdir(PROJECT_ROOT)
    try:
        code = subprocess.call(cmd)
    finally:
        if mlflow_proc is not None:
            mlflow_proc.terminate()
            try:
                mlflow_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                mlflow_proc.kill()
    raise typer.Exit(code)


def _demo_simulation(settings: Settings, advance_months: int | None) -> None:
    """The demo company from the settings: created once, then advanced reading the send ledger."""
    simulate(
        customers=settings.demo_customers,
        start=settings.demo_start,
        months=settings.demo_months,
        seed=settings.seed,
        out=None,
        file_format="parquet",
        advance_months=advance_months,
        ledger=settings.ledger_export if settings.ledger_export.exists() else None,
        force=False,
    )


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Dagster UI port.")] = 3000,
    mlflow_port: Annotated[int, typer.Option(help="MLflow UI port (0 to not start it).")] = 5000,
    no_ui: Annotated[bool, typer.Option("--no-ui", help="Stop after materializing.")] = False,
) -> None:
    """The whole platform on its embedded defaults, two periods of the closed loop, then the UIs.

    Simulate a company; ingest, build the marts, train, score; the campaign sensor launches the campaign
    for customers whose tier rose; the simulation advances a month reading the send ledger (treated customers
    respond); the next period is ingested and scored, its campaign launched, and the first campaign measured.
    """
    import json

    settings = get_settings()
    _environment(settings)
    summary_file = settings.ground_truth / "summary.json"
    if summary_file.exists():
        console.print(f"demo company already simulated in {settings.data_dir} (delete it to start over)")
    else:
        _demo_simulation(settings, advance_months=None)
    import dagster as dg

    before_campaign = dg.AssetSelection.all() - dg.AssetSelection.assets("retention_targets").downstream()
    if not _materialize(before_campaign, title="Period 1: ingest, marts, models, scores"):
        raise _fail("the pipeline failed: see the table above")
    _run_campaign_sensor()
    state = json.loads((settings.ground_truth / "state" / "meta.json").read_text())
    if state["next_month"] <= settings.demo_months:
        console.print("[bold]advancing the company one month[/]: treated customers respond to their campaign")
        _demo_simulation(settings, advance_months=1)
        # the new month is ingested and scored by the current champion; retraining is monthly, not per batch
        training = dg.AssetSelection.assets("churn_model_candidates", "champion_model")
        if not _materialize(before_campaign - training, title="Period 2: the next month ingested and scored"):
            raise _fail("the pipeline failed: see the table above")
        _run_campaign_sensor()
        _materialize(
            dg.AssetSelection.assets("campaign_outcomes", "uplift_model"),
            title="Outcomes of the first campaign",
        )
    outbox = sorted(settings.outbox.glob("*.eml")) if settings.outbox.exists() else []
    console.print(f"outbox: {len(outbox)} messages in {settings.outbox}")
    if not no_ui:
        ui(host=host, port=port, mlflow_port=mlflow_port)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
