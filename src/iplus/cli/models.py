"""``iplus model``: train on telemetry, list versions, promote, archive, download, water-flow evaluation."""

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from iplus.cli.devices import acting_for
from iplus.cli.main import BuildContext, fail, out, run_async, table, with_context
from iplus.platform.context import Context


def _params(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--params is not JSON: {exc}")
    if not isinstance(value, dict):
        fail("--params must be a JSON object")
    return value


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be an ISO 8601 time with an offset, e.g. 2026-01-01T00:00:00+00:00")
    if value.tzinfo is None:
        fail(f"{option} needs a UTC offset")
    return value


def _metric_line(metrics: dict[str, Any]) -> str:
    if "model" in metrics:
        return f"MAE {metrics['model']['mae']:.4g} (persistence {metrics['persistence']['mae']:.4g})"
    if "detection" in metrics:
        d = metrics["detection"]
        return f"P {d['event_precision']:.2f} R {d['event_recall']:.2f} F1 {d['event_f1']:.2f}"
    if "alarms" in metrics or "alarms_test" in metrics:
        return f"alarms {metrics.get('alarms', metrics.get('alarms_test'))}"
    return ""


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the model commands to ``app``."""
    model_app = typer.Typer(
        help="Trained models: train, list, promote, archive, download.", no_args_is_help=True
    )
    app.add_typer(model_app, name="model")
    Org = Annotated[str, typer.Option(help="Organisation name.")]

    @model_app.command("list")
    def list_models(
        org: Org, name: Annotated[str | None, typer.Argument(help="A model: list its versions.")] = None
    ) -> None:
        """The organisation's models, or the versions of one model with stage and metrics."""

        async def work(ctx: Context) -> None:
            caller = await acting_for(ctx, org)
            if name is None:
                t = table("name", "kind", "versions", "latest", "production")
                for m in await ctx.models.list_models(caller):
                    t.add_row(
                        m["name"],
                        m["kind"],
                        str(m["versions"]),
                        str(m["latest"]),
                        str(m["production"] or "-"),
                    )
            else:
                t = table("version", "stage", "kind", "data", "metrics", "sha256")
                for v in await ctx.models.versions(caller, name):
                    data = f"{v.lineage.get('data_start', '?')} .. {v.lineage.get('data_end', '?')}"
                    t.add_row(
                        str(v.version), v.stage, v.kind, data, _metric_line(v.metrics), v.artifact_sha256[:12]
                    )
            out.print(t)

        with_context(build, work)

    @model_app.command("train")
    def train(
        org: Org,
        name: Annotated[str, typer.Option(help="Model name; each training adds a version.")],
        kind: Annotated[
            str, typer.Option(help="forecast, isolation-forest, robust-zscore or half-space-trees.")
        ],
        device: Annotated[list[str], typer.Option(help="Device id (repeat for several).")],
        key: Annotated[str, typer.Option(help="Numeric property to train on.")],
        start: Annotated[str | None, typer.Option(help="First time (ISO 8601, inclusive).")] = None,
        end: Annotated[str | None, typer.Option(help="Last time (ISO 8601, exclusive).")] = None,
        params: Annotated[str, typer.Option(help="Parameters as JSON, e.g. '{\"lags\": 24}'.")] = "{}",
    ) -> None:
        """Train on the organisation's telemetry and register a candidate version."""
        from iplus.platform.training import TrainSpec

        spec = TrainSpec(
            name, kind, device, key, _when(start, "--start"), _when(end, "--end"), _params(params)
        )

        async def work(ctx: Context) -> None:
            await ctx.telemetry.open()
            try:
                v = await ctx.trainer.train(await acting_for(ctx, org), spec)
            finally:
                await ctx.telemetry.close()
            out.print(
                f"{v.name} version {v.version} ({v.kind}, {v.stage}): {_metric_line(v.metrics)}", markup=False
            )

        with_context(build, work)

    def _stage(org: str, name: str, version: int, stage: str) -> None:
        async def work(ctx: Context) -> None:
            v = await ctx.models.set_stage(await acting_for(ctx, org), name, version, stage)
            out.print(f"{v.name} version {v.version} is {v.stage}", markup=False)

        with_context(build, work)

    @model_app.command("promote")
    def promote(org: Org, name: str, version: int) -> None:
        """Make a version the production one (the previous production version is archived)."""
        _stage(org, name, version, "production")

    @model_app.command("archive")
    def archive(org: Org, name: str, version: int) -> None:
        """Archive a version."""
        _stage(org, name, version, "archived")

    @model_app.command("download")
    def download(
        org: Org,
        name: str,
        version: int,
        output: Annotated[Path, typer.Option("--out", help="File to write the artifact to.")],
    ) -> None:
        """Write a version's artifact (skops or JSON) to a file, after checking its SHA-256."""

        async def work(ctx: Context) -> None:
            row, data = await ctx.models.artifact(await acting_for(ctx, org), name, version)
            output.write_bytes(data)
            out.print(f"{output}: {len(data)} bytes, sha256 {row.artifact_sha256}", markup=False)

        with_context(build, work)

    @model_app.command("evaluate-waterflow")
    def evaluate_waterflow(
        detector: Annotated[str, typer.Option(help="robust-zscore or half-space-trees.")] = "robust-zscore",
        params: Annotated[str, typer.Option(help="Detector parameters as JSON.")] = "{}",
        calibrate: Annotated[
            bool, typer.Option(help="Choose the threshold on the first half, report on the second.")
        ] = False,
    ) -> None:
        """Run an online detector over river's labelled water-flow series; print precision, recall, F1."""
        from iplus.engines.ai.waterflow import evaluate

        async def work() -> dict[str, Any]:
            return evaluate(detector, _params(params), calibrate)

        report = run_async(work())
        m = report["metrics"]
        out.print(
            f"detector {detector}, threshold {report['threshold']:.4g}, {report['reported_on']}", markup=False
        )
        out.print(
            f"events: {m['windows']} labelled, {m['alarms']} alarms, precision {m['event_precision']:.2f}, "
            f"recall {m['event_recall']:.2f}, F1 {m['event_f1']:.2f} (tolerance {m['tolerance']} readings)",
            markup=False,
        )
        out.print(
            f"points: precision {m['point_precision']:.2f}, recall {m['point_recall']:.2f}, "
            f"F1 {m['point_f1']:.2f}; detection delays {m['delays']}",
            markup=False,
        )
