"""The ``churn-platform`` command: simulate a company, materialize the pipeline, open the UIs."""

from __future__ import annotations

import datetime as dt
import os
import shutil
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


DEMO_ALERT_EMAIL = "churn-owners@churn-platform.local"


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@app.callback()
def _check_configuration(ctx: typer.Context) -> None:
    """Every command starts by checking the settings and policy files: one line per problem, exit code 2."""
    from churn_platform.lib.configuration import configuration_problems

    if ctx.resilient_parsing:
        return
    problems = configuration_problems(
        check_policies=ctx.invoked_subcommand not in {"contract", "expectations"}
    )
    if problems:
        for problem in problems:
            console.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2)


@app.command()
def simulate(
    profile: Annotated[
        str | None,
        typer.Option(
            help="Company profile to simulate: saas, social, or a path to a profile YAML with a simulation: "
            "section. Default: CHURN_COMPANY_PROFILE, else saas."
        ),
    ] = None,
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
    """Simulate a company as its profile describes it: landing files in its data contract, plus the ground truth."""
    from pydantic import ValidationError

    from churn_platform.simulate.config import SimulationConfig
    from churn_platform.simulate.engine import simulate as run_simulation
    from churn_platform.simulate.parameters import load_simulated_company

    settings = get_settings()
    landing = out / "landing" if out else settings.landing
    truth = out / "ground_truth" if out else settings.ground_truth
    default_ledger = settings.data_dir / "exports" / "send_ledger.parquet"
    try:
        company = load_simulated_company(profile)
        config = SimulationConfig(
            profile=str(company.path),
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
    if force and advance_months is None:  # only once the request is known to be valid
        for path in (landing, truth):
            shutil.rmtree(path, ignore_errors=True)
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
    table = Table(title=f"Simulated company {company.name} ({time.perf_counter() - started:.1f} s)")
    table.add_column("source")
    table.add_column("rows", justify="right")
    for name, rows in sorted(summary.rows.items()):
        table.add_row(name, f"{rows:,}")
    console.print(table)
    auc = f"{summary.oracle_auc:.3f}" if summary.oracle_auc is not None else "n/a"
    console.print(
        f"customers {summary.customers_total:,} | monthly churn {summary.churn_rate:.1%} | reactivations "
        f"{summary.reactivations:,} | oracle ROC-AUC {auc}\n"
        f"landing: {summary.landing}\nground truth (never read by the pipeline): {summary.ground_truth}"
    )


ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="Company profile: a name (saas, social) or a path to a YAML file; default CHURN_COMPANY_PROFILE, "
        "else saas.",
    ),
]


def _contract(profile: str | None) -> Any:
    from churn_platform.contract import contract_named
    from churn_platform.profile import ProfileError

    try:
        return contract_named(profile)
    except ProfileError as exc:
        raise _fail(str(exc)) from exc


def contract_doc_path(profile_name: str) -> Path:
    """Where ``contract --write`` puts a company's contract: docs/data-contract.md for the default company."""
    from churn_platform.profile import DEFAULT_PROFILE

    name = "data-contract.md" if profile_name == DEFAULT_PROFILE else f"data-contract-{profile_name}.md"
    return PROJECT_ROOT / "docs" / name


@app.command()
def contract(
    profile: ProfileOption = None,
    write: Annotated[
        bool, typer.Option(help="Write docs/data-contract[-<profile>].md instead of printing.")
    ] = False,
) -> None:
    """Print (or write) a company's landing data contract as Markdown, generated from its profile."""
    from churn_platform.contract import render_markdown

    company = _contract(profile)
    text = render_markdown(company)
    if write:
        path = contract_doc_path(company.profile.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        console.print(f"wrote {path}")
    else:
        print(text)


@app.command()
def expectations(profile: ProfileOption = None) -> None:
    """Regenerate a company's baseline Great Expectations suites (expectations/<profile>/) from its profile."""
    from churn_platform.lib.quality import write_suites

    for path in write_suites(_contract(profile)):
        console.print(f"wrote {path}")


@app.command("accept-quarantine")
def accept_quarantine(
    source: Annotated[str, typer.Argument(help="The raw source whose gate is blocked, e.g. subscriptions.")],
    batch: Annotated[str, typer.Option(help="The batch date (YYYY-MM-DD) whose quarantine you accept.")],
    reason: Annotated[str, typer.Option(help="Why the batch may pass as it is (recorded with your name).")],
) -> None:
    """Let a source's quality gate pass although its latest delivery is mostly quarantined (recorded)."""
    from churn_platform.lib.gates import accept
    from churn_platform.lib.warehouse import WarehouseBusyError
    from churn_platform.lib.warehouse import connect as connect_warehouse

    settings = get_settings()
    try:
        batch_date = dt.date.fromisoformat(batch)
        con = connect_warehouse(settings.warehouse, wait_seconds=5)
    except (ValueError, WarehouseBusyError) as exc:
        raise _fail(str(exc)) from exc
    try:
        accept(con, source, batch_date, reason)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    finally:
        con.close()
    console.print(f"accepted {source} batch {batch_date}: the next run's quality gate lets it through")


@app.command()
def receiver(
    host: Annotated[str | None, typer.Option(help="Interface to bind; localhost by default.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (CHURN_RECEIVER_PORT, 8800).")] = None,
) -> None:
    """Receive provider delivery events (SendGrid Event Webhook at /sendgrid/events, Twilio status callbacks
    at /twilio/status) into files the next delivery run reconciles from."""
    from churn_platform.lib.delivery.events import EventReceiver

    settings = get_settings()
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    server = EventReceiver(
        settings.delivery_events,
        host or settings.host,
        port or settings.receiver_port,
        settings.receiver_url,
        token,
        settings.sendgrid_webhook_public_key,
    )
    console.print(f"delivery events: {server.url} -> {settings.delivery_events} (Ctrl+C stops)")
    with server:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


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
    sep: Annotated[
        str | None, typer.Option(help="Column delimiter (default: detected among , ; tab |).")
    ] = None,
    decimal: Annotated[
        str | None, typer.Option(help="Decimal mark, . or , (default: detected; European exports use ,).")
    ] = None,
) -> None:
    """Run the platform's training and evaluation on any customer CSV (k-fold CV), one row per model."""
    from ml.benchmark import check_folds, cross_validate, load_customer_table
    from ml.models import MODEL_KINDS

    settings = get_settings()
    quiet_telemetry()
    try:
        if decimal not in (None, ".", ","):
            raise ValueError(f"--decimal must be . or , (got {decimal!r})")
        table = load_customer_table(csv, target, positive, id_column, tuple(drop or ()), sep, decimal)
        check_folds(table.y, folds)
    except (ValueError, FileNotFoundError, UnicodeDecodeError) as exc:
        raise _fail(str(exc)) from exc
    for note in table.notes:
        console.print(f"[yellow]warning:[/] {note}")
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
            why = f": {check.description}" if check.description else ""
            table.add_row(
                f"{check.asset_key.to_user_string()}:{check.check_name}", f"[yellow]did not pass[/]{why}"
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


def _run_sensor(name: str, selection: Any, title: str) -> int:
    """Evaluate a sensor exactly as the daemon does, and run what it requests in this process."""
    import dagster as dg

    from churn_platform.definitions import defs as lazy_defs

    defs = lazy_defs()
    instance = dg.DagsterInstance.get()
    sensor = defs.resolve_sensor_def(name)
    context = dg.build_sensor_context(instance=instance, definitions=defs, sensor_name=name)
    tick = sensor.evaluate_tick(context)
    requests = tick.run_requests or []
    if not requests:
        console.print(f"[bold]{name}[/]: nothing to launch ({tick.skip_message or 'no request'})")
    for request in requests:
        console.print(f"[bold]{name}[/] launches a run: {request.tags.get('churn/reason', '')}")
        _materialize(selection, tags=dict(request.tags), title=title)
    return len(requests)


def _run_campaign_sensor() -> int:
    from churn_platform.defs.retention.assets import campaign_job

    return _run_sensor("campaign_sensor", campaign_job.selection, "Campaign run")


def _views(settings: Settings, host: str, ports: dict[str, int]) -> list[Any]:
    """The background views (MLflow, Evidently UI, dashboard) to start; a port of 0 leaves one out."""
    from churn_platform.lib.services import Service

    bin_dir = Path(sys.executable).parent
    views = []
    if ports["mlflow"]:
        from ml.tracking import configure

        configure(settings.mlflow_uri, settings.mlflow_artifacts)  # creates the store on a fresh machine
        views.append(
            Service(
                "MLflow UI",
                [
                    str(bin_dir / "mlflow"),
                    "server",
                    "--backend-store-uri",
                    settings.mlflow_uri,
                    "--default-artifact-root",
                    settings.mlflow_artifacts.as_uri(),
                    "--host",
                    host,
                    "--port",
                    str(ports["mlflow"]),
                    "--workers",
                    "1",
                ],
                f"http://{host}:{ports['mlflow']}",
                "/health",
                "runs side by side, the registered model and its champion alias",
            )
        )
    if ports["evidently"]:
        settings.evidently_workspace.mkdir(parents=True, exist_ok=True)
        views.append(
            Service(
                "Evidently UI",
                [
                    str(bin_dir / "evidently"),
                    "ui",
                    "--workspace",
                    str(settings.evidently_workspace),
                    "--host",
                    host,
                    "--port",
                    str(ports["evidently"]),
                ],
                f"http://{host}:{ports['evidently']}",
                "/",
                "drift and performance reports, run after run (project 'Churn Platform')",
            )
        )
    if ports["dashboard"]:
        from churn_platform.dashboard.auth import dashboard_command

        command, bind = dashboard_command(
            settings,
            str(bin_dir / "streamlit"),
            PROJECT_ROOT / "churn_platform" / "dashboard" / "app.py",
            host,
            ports["dashboard"],
        )
        if bind != host:
            console.print(
                f"[yellow]the dashboard has no sign-in configured (CHURN_OIDC_*): it binds to {bind}, not {host}[/]"
            )
        views.append(
            Service(
                "Risk dashboard",
                command,
                f"http://{bind}:{ports['dashboard']}",
                "/_stcore/health",
                "worklist, trends, campaigns, model health (reads published snapshots only)",
            )
        )
    return views


@app.command()
def ui(
    host: Annotated[str | None, typer.Option(help="Interface to bind; localhost by default.")] = None,
    port: Annotated[int | None, typer.Option(help="Dagster UI port (default 3000).")] = None,
    mlflow_port: Annotated[
        int | None, typer.Option(help="MLflow UI port (default 5000; 0: not started).")
    ] = None,
    evidently_port: Annotated[
        int | None, typer.Option(help="Evidently UI port (default 8000; 0: not started).")
    ] = None,
    dashboard_port: Annotated[
        int | None, typer.Option(help="Risk dashboard port (default 8501; 0: not started).")
    ] = None,
) -> None:
    """Bring up every view: Dagster (with the daemon), MLflow, the Evidently UI and the risk dashboard."""
    from churn_platform.lib.services import Service, wait_until_up

    settings = get_settings()
    _environment(settings)
    host = host or settings.host
    ports = {
        "dagster": settings.dagster_port if port is None else port,
        "mlflow": settings.mlflow_port if mlflow_port is None else mlflow_port,
        "evidently": settings.evidently_port if evidently_port is None else evidently_port,
        "dashboard": settings.dashboard_port if dashboard_port is None else dashboard_port,
    }
    views = _views(settings, host, ports)
    dagster = Service(
        "Dagster UI",
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-w",
            str(PROJECT_ROOT / "workspace.yaml"),
            "-h",
            host,
            "-p",
            str(ports["dagster"]),
        ],
        f"http://{host}:{ports['dagster']}",
        "/server_info",
        "lineage, runs, checks, sensors and schedules",
    )
    logs = settings.data_dir / "logs"
    console.print(f"starting {len(views) + 1} views (logs in {logs}) ...")
    os.chdir(PROJECT_ROOT)
    try:
        for view in [*views, dagster]:
            view.start(logs)
        status = wait_until_up([*views, dagster])
        table = Table(title="Churn Platform is up (Ctrl-C stops everything)")
        for col in ("view", "address", "for"):
            table.add_column(col)
        for view in [dagster, *views]:
            address = view.url if status[view.name] else f"[red]{view.url} (not answering: see its log)[/]"
            table.add_row(view.name, address, view.purpose)
        console.print(table)
        for view in [dagster, *views]:  # plain lines too, for scripts and logs
            console.print(f"[bold green]{view.name}:[/] {view.url}", highlight=False)
        code = dagster.process.wait() if dagster.process else 1
    except KeyboardInterrupt:
        code = 0
    finally:
        for view in [dagster, *views]:
            view.stop()
    raise typer.Exit(code)


def _demo_simulation(settings: Settings, advance_months: int | None, drift: str = "none") -> None:
    """The demo company from the settings: created once, then advanced reading the send ledger."""
    simulate(
        profile=None,
        customers=settings.demo_customers,
        start=settings.demo_start,
        months=settings.demo_months,
        seed=settings.seed,
        out=None,
        file_format="parquet",
        advance_months=advance_months,
        ledger=settings.ledger_export if settings.ledger_export.exists() else None,
        force=False,
        drift=drift,
        drift_month=None,
    )


def _hand_over_cursors(settings: Settings) -> None:
    """The demo evaluated the sensors itself: give the daemon their cursors, so that on its first tick it does
    not see every landing file, tier change and report as new and redo the demo's work."""
    import dagster as dg

    from churn_platform.defs.monitoring.sensors import REPORT_KEYS
    from churn_platform.lib.sensing import new_deliveries

    instance = dg.DagsterInstance.get()

    def newest(keys: list[dg.AssetKey]) -> str | None:
        ids = [r.storage_id for key in keys for r in instance.fetch_materializations(key, limit=1).records]
        return str(max(ids)) if ids else None

    cursors = {
        "landing_sensor": new_deliveries(settings.landing, None).cursor,
        "drift_retraining_sensor": newest(REPORT_KEYS),
        "campaign_sensor": newest([dg.AssetKey("risk_tier_changes")]),
    }
    from churn_platform.lib.handover import set_sensor_cursors

    wanted = {name: value for name, value in cursors.items() if value}
    try:
        done = set_sensor_cursors(instance, PROJECT_ROOT / "workspace.yaml", wanted)
    except Exception as exc:  # never fail the demo over this: the daemon then re-checks everything once
        done = []
        console.print(f"[yellow]could not hand the sensor cursors to the daemon ({exc})[/]: it will re-check")
    missing = sorted(set(wanted) - set(done))
    if missing:
        console.print(f"[yellow]sensors not found for their cursors: {missing}[/]")


@app.command()
def demo(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default localhost).")] = None,
    port: Annotated[int | None, typer.Option(help="Dagster UI port (default 3000).")] = None,
    mlflow_port: Annotated[int | None, typer.Option(help="MLflow UI port (0: not started).")] = None,
    evidently_port: Annotated[int | None, typer.Option(help="Evidently UI port (0: not started).")] = None,
    dashboard_port: Annotated[int | None, typer.Option(help="Risk dashboard port (0: not started).")] = None,
    drift: Annotated[
        str, typer.Option(help="Behaviour shift in the month the demo advances: outage, price_rise or none.")
    ] = "outage",
    no_ui: Annotated[bool, typer.Option("--no-ui", help="Stop after materializing.")] = False,
    profile: ProfileOption = None,
) -> None:
    """The whole platform on its embedded defaults, two periods of the closed loop, then every view.

    Simulate a company; ingest, build the marts, train, score, monitor; the campaign sensor launches the
    campaign for customers whose tier rose; the company advances a month reading the send ledger (treated
    customers respond) with a product outage in it; that month is ingested, scored and monitored, the drift
    report flags it and the drift sensor launches retraining, which the promotion gate decides; the first
    campaign is measured, the next one allocated from its outcomes, alerts sent and the dashboard published.
    """
    import json

    import dagster as dg

    from churn_platform.defs.monitoring.sensors import RETRAINING

    # links written during the demo (reports, dashboard) must point where the views will listen
    for name, value in (
        ("CHURN_HOST", host),
        ("CHURN_DAGSTER_PORT", port),
        ("CHURN_MLFLOW_PORT", mlflow_port),
        ("CHURN_EVIDENTLY_PORT", evidently_port),
        ("CHURN_DASHBOARD_PORT", dashboard_port),
    ):
        if value:
            os.environ[name] = str(value)
    if profile:
        os.environ["CHURN_COMPANY_PROFILE"] = profile  # every step and view of the demo runs on this company
    company = _contract(None).profile
    console.print(f"company profile: [bold]{company.name}[/] ({company.version})")
    if not os.environ.get("CHURN_ALERT_EMAILS") and not os.environ.get("CHURN_ALERT_WEBHOOK_URL"):
        # the demo's owning team reads its alerts in the outbox, beside the campaigns
        os.environ["CHURN_ALERT_EMAILS"] = DEMO_ALERT_EMAIL
    settings = get_settings()
    _environment(settings)
    console.print(
        f"alerts go to {settings.alert_emails or 'no email'}"
        + (" and the webhook" if settings.alert_webhook_url else "")
        + " (CHURN_ALERT_EMAILS, CHURN_ALERT_WEBHOOK_URL)"
    )
    summary_file = settings.ground_truth / "summary.json"
    if summary_file.exists():
        simulated = json.loads(summary_file.read_text()).get("profile", "saas")
        if simulated != company.name:
            raise _fail(
                f"{settings.data_dir} holds the {simulated!r} company, not {company.name!r}: delete it, or point "
                "CHURN_DATA_DIR at another folder for this company"
            )
        console.print(f"demo company already simulated in {settings.data_dir} (delete it to start over)")
    else:
        _demo_simulation(settings, advance_months=None)
    before_campaign = dg.AssetSelection.all() - dg.AssetSelection.assets("retention_targets").downstream()
    if not _materialize(before_campaign, title="Period 1: ingest, marts, models, scores, monitoring"):
        raise _fail("the pipeline failed: see the table above")
    _run_campaign_sensor()
    state = json.loads((settings.ground_truth / "state" / "meta.json").read_text())
    if state["next_month"] <= settings.demo_months:
        shift = f" with a simulated {drift.replace('_', ' ')}" if drift != "none" else ""
        console.print(
            f"[bold]advancing the company one month{shift}[/]: treated customers respond to their campaign"
        )
        _demo_simulation(settings, advance_months=1, drift=drift)
        # the new month is ingested, scored by the current champion and monitored; retraining is not per batch:
        # the monthly schedule or the drift sensor launches it
        training = dg.AssetSelection.assets("churn_model_candidates", "champion_model")
        if not _materialize(
            before_campaign - training, title="Period 2: the next month ingested, scored and monitored"
        ):
            raise _fail("the pipeline failed: see the table above")
        _run_sensor("drift_retraining_sensor", RETRAINING, "Retraining launched by the drift sensor")
        # the first campaign's outcomes have matured: measured first, so that the second campaign's allocation
        # between arms learns from them (Thompson sampling, or the uplift model once it beats random)
        _materialize(
            dg.AssetSelection.assets("campaign_outcomes", "uplift_model"),
            title="Outcomes of the first campaign",
        )
        _run_campaign_sensor()
    _materialize(
        dg.AssetSelection.assets("monitoring_alerts", "dashboard_snapshot"),
        title="Alerts and the risk dashboard",
    )
    outbox = sorted(settings.outbox.glob("*.eml")) if settings.outbox.exists() else []
    console.print(f"outbox: {len(outbox)} messages in {settings.outbox}")
    _hand_over_cursors(settings)
    if not no_ui:
        ui(
            host=host,
            port=port,
            mlflow_port=mlflow_port,
            evidently_port=evidently_port,
            dashboard_port=dashboard_port,
        )


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind; localhost by default (CHURN_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default CHURN_API_PORT, 8081).")] = None,
    workers: Annotated[
        int, typer.Option(help="Server processes, each holding the champion in memory (one per core).")
    ] = 2,
    access_log: Annotated[bool, typer.Option(help="Log each request line (never headers or keys).")] = True,
) -> None:
    """The real-time scoring API (FastAPI): risk of a customer, scoring fresh features; OpenAPI docs at /docs."""
    import uvicorn

    from churn_platform.api.keys import list_keys

    settings = get_settings()
    _environment(settings)
    host = host or settings.host
    port = port or settings.api_port
    if not list_keys(settings.api_keys):
        console.print(
            f"[yellow]no API keys in {settings.api_keys}[/]: every route but /v1/health will answer 401; "
            "create one with `churn-platform api-key create --name NAME --scope read --scope score`"
        )
    console.print(f"[bold green]Scoring API:[/] http://{host}:{port} (docs at /docs)", highlight=False)
    uvicorn.run(
        "churn_platform.api.app:factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
    )


api_key_app = typer.Typer(help="API keys of the scoring API (stored hashed; a key is shown once).")
app.add_typer(api_key_app, name="api-key")


@api_key_app.command("create")
def api_key_create(
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. support-tool.")],
    scope: Annotated[
        list[str], typer.Option(help="read (GET risk) and/or score (POST /v1/score); repeatable.")
    ],
) -> None:
    """Create a key and print it once (only its hash is kept)."""
    from churn_platform.api.keys import create_key

    settings = get_settings()
    try:
        key = create_key(settings.api_keys, name, scope)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    import getpass

    from churn_platform.lib import audit

    audit.record(
        settings.audit_db, getpass.getuser(), "api_key", role="admin", created=name, scopes=sorted(set(scope))
    )
    console.print(f"API key [bold]{name}[/] ({', '.join(sorted(set(scope)))}); shown once, keep it safe:")
    print(key)


@api_key_app.command("list")
def api_key_list() -> None:
    """Names, scopes and first characters of the keys."""
    from churn_platform.api.keys import list_keys

    for key in list_keys(get_settings().api_keys):
        console.print(f"{key.name}: {', '.join(sorted(key.scopes))} ({key.shown}...)")


@api_key_app.command("revoke")
def api_key_revoke(name: Annotated[str, typer.Option(help="The key's name.")]) -> None:
    """Revoke a key; a running API stops accepting it at once."""
    import getpass

    from churn_platform.api.keys import revoke_key
    from churn_platform.lib import audit

    settings = get_settings()
    if not revoke_key(settings.api_keys, name):
        raise _fail(f"no API key named {name!r}")
    audit.record(settings.audit_db, getpass.getuser(), "api_key", role="admin", revoked=name)
    console.print(f"revoked {name}")


@app.command()
def erase(
    customer: Annotated[str, typer.Option(help="The customer id to erase everywhere.")],
    reason: Annotated[
        str, typer.Option(help="Why (e.g. 'GDPR art. 17 request #1234'); kept in the audit log.")
    ],
    by: Annotated[
        str | None, typer.Option(help="Who asked for it (default: the operating-system user).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a customer from landing files, warehouse, marts, scores, decisions, ledger (a salted tombstone
    stays), outbox, exports, published snapshots, Dagster's and MLflow's stores; re-deliveries are dropped."""
    import getpass

    from churn_platform.lib.erase import ErasureError, erase_customer

    settings = get_settings()
    _environment(settings)
    if not yes and not typer.confirm(
        f"Erase customer {customer} everywhere? This cannot be undone", default=False
    ):
        raise typer.Exit(1)
    actor = by or getpass.getuser()
    with console.status(f"erasing {customer} ..."):
        try:
            report = erase_customer(customer, reason, settings, actor)
        except ErasureError as exc:
            raise _fail(str(exc)) from exc
    summary = report.summary()
    console.print(
        f"[bold green]erased[/] (tombstone {summary['customer_hash'][:16]}...): {summary['landing_rows']} rows in "
        f"{summary['landing_files']} landing files, {summary['warehouse_rows']} warehouse rows in "
        f"{summary['warehouse_tables']} tables, {summary['ledger_tombstones']} ledger rows tombstoned, "
        f"{summary['redacted_cells']} text cells redacted, {summary['files_rewritten']} files rewritten, "
        f"{summary['files_deleted']} deleted, marts rebuilt: {summary['marts_rebuilt']}; recorded in the audit log",
        highlight=False,
    )


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
