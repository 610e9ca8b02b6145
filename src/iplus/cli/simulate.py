"""``iplus simulate``: N simulated devices sending readings over MQTT or HTTP at a set total rate."""

import asyncio
import contextlib
import signal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from iplus.cli.main import err, fail, out, run_async, table
from iplus.core.errors import InvalidInput

if TYPE_CHECKING:  # the simulator pulls in numpy and pydantic: import it only when the command runs
    from iplus.access.sim import Device, Profile, Runner, Stats, Transport


class TransportKind(StrEnum):
    """Where the messages go."""

    MQTT = "mqtt"
    HTTP = "http"
    HTTP_BATCH = "http-batch"
    STDOUT = "stdout"


class PayloadFormat(StrEnum):
    """How a message is encoded."""

    JSON = "json"
    SENML = "senml"


class TimestampMode(StrEnum):
    """Which time a message carries."""

    NOW = "now"
    ORIGINAL = "original"


DEFAULT_DURATION_S = 60.0


def parse_devices(spec: str, prefix: str, token: str) -> "list[Device]":
    """Devices from a CSV file, or ``N`` generated ones sharing ``token``."""
    from iplus.access.sim import generate_devices, read_devices

    if spec.isdigit():
        return generate_devices(int(spec), prefix=prefix, token=token)
    return read_devices(Path(spec))


def parse_profiles(specs: list[str]) -> "Profile | dict[str, Profile]":
    """One profile for every device, or ``TYPE=PROFILE`` pairs matched against the devices' type column."""
    from iplus.access.sim import load_profile

    if len(specs) == 1 and "=" not in specs[0]:
        return load_profile(specs[0])
    by_type: dict[str, Profile] = {}
    for spec in specs:
        kind, sep, name = spec.partition("=")
        if not sep or not kind or not name:
            raise InvalidInput(f"--profile {spec!r}: give one profile, or TYPE=PROFILE for each device type")
        by_type[kind] = load_profile(name)
    return by_type


def parse_speed(value: str) -> float | None:
    """``auto`` (None) or a positive factor."""
    if value == "auto":
        return None
    try:
        speed = float(value)
    except ValueError as exc:
        raise InvalidInput(f"--speed {value!r}: a number of simulated seconds per second, or auto") from exc
    if not speed > 0:
        raise InvalidInput("--speed must be > 0")
    return speed


def build_transport(
    kind: TransportKind,
    broker: str,
    url: str,
    api_key: str | None,
    qos: int,
    fmt: PayloadFormat,
    batch_size: int,
) -> "Transport":
    """The transport the options ask for."""
    from iplus.access.sim import HttpBatchTransport, HttpTransport, MqttTransport, StdoutTransport

    use_senml = fmt is PayloadFormat.SENML
    if kind is TransportKind.MQTT:
        return MqttTransport(broker, qos=qos, senml=use_senml)
    if kind is TransportKind.HTTP:
        return HttpTransport(url, senml=use_senml)
    if kind is TransportKind.HTTP_BATCH:
        if use_senml:
            raise InvalidInput("the batch endpoint takes flat JSON messages: drop --format senml")
        return HttpBatchTransport(url, api_key=api_key or "", batch_size=batch_size)
    return StdoutTransport(senml=use_senml)


def print_summary(stats: "Stats", rate: float, to_stderr: bool) -> None:
    """The final counts, rates and failure reasons."""
    console = err if to_stderr else out
    summary = table("sent", "failed", "dropped (by design)", "elapsed s", "achieved msg/s", "target msg/s")
    summary.add_row(
        str(stats.sent),
        str(stats.failed),
        str(stats.dropped),
        f"{stats.elapsed_s:.2f}",
        f"{stats.achieved_rate:.1f}",
        f"{rate:g}",
    )
    console.print(summary)
    if stats.failures:
        reasons = table("failure", "count", "example")
        for reason, count in stats.failures.most_common():
            reasons.add_row(reason, str(count), stats.examples.get(reason, ""))
        console.print(reasons)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command("simulate")
    def simulate(
        devices: Annotated[
            str,
            typer.Option(
                "--devices",
                "-d",
                help="CSV file with device_id,token[,type], or a number of devices to generate.",
            ),
        ] = "10",
        profile: Annotated[
            list[str] | None,
            typer.Option(
                "--profile",
                "-p",
                help="Built-in (room, weather, water-flow) or TOML/JSON file; TYPE=PROFILE per device type.",
            ),
        ] = None,
        transport: Annotated[TransportKind, typer.Option("--transport", "-t", help="Where to send.")] = (
            TransportKind.MQTT
        ),
        broker: Annotated[str, typer.Option(help="MQTT broker URL.")] = "mqtt://127.0.0.1:1883",
        url: Annotated[
            str, typer.Option(help="Platform base URL for http and http-batch.")
        ] = "http://127.0.0.1:8000",
        api_key: Annotated[
            str | None, typer.Option("--api-key", envvar="IPLUS_API_KEY", help="API key for http-batch.")
        ] = None,
        payload_format: Annotated[PayloadFormat, typer.Option("--format", help="Payload encoding.")] = (
            PayloadFormat.JSON
        ),
        qos: Annotated[int, typer.Option(min=0, max=2, help="MQTT QoS.")] = 1,
        rate: Annotated[
            float, typer.Option(min=0.001, help="Total messages per second over all devices.")
        ] = 10.0,
        duration: Annotated[
            float | None, typer.Option(min=0.001, help=f"Seconds to run (default {DEFAULT_DURATION_S:g}).")
        ] = None,
        count: Annotated[
            int | None, typer.Option(min=1, help="Message slots to run (sent, failed and dropped).")
        ] = None,
        seed: Annotated[int, typer.Option(help="Seed of every random stream.")] = 0,
        speed: Annotated[
            str, typer.Option(help="Simulated seconds per second, or auto (replays: one row per message).")
        ] = "auto",
        timestamps: Annotated[
            TimestampMode,
            typer.Option(help="now: send time; original: simulated time (a replay's own times)."),
        ] = TimestampMode.NOW,
        offset: Annotated[
            float, typer.Option(help="Seconds each device's simulated clock is ahead of the last.")
        ] = 0.0,
        prefix: Annotated[str, typer.Option(help="Id prefix of generated devices.")] = "sim-",
        token: Annotated[
            str, typer.Option(envvar="IPLUS_SIM_TOKEN", help="Shared token of generated devices.")
        ] = "sim-token",  # noqa: S107 (a simulator default, not a secret)
        batch_size: Annotated[
            int, typer.Option(min=1, max=10_000, help="Messages per http-batch request.")
        ] = 100,
        max_in_flight: Annotated[int, typer.Option(min=1, help="Concurrent sends at most.")] = 256,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
        list_profiles: Annotated[
            bool, typer.Option("--list-profiles", help="List built-in profiles and exit.")
        ] = False,
    ) -> None:
        """Simulate devices sending readings (synthetic signals or replayed measurements)."""
        from iplus.access.sim import Runner, RunOptions, builtin_profiles, load_profile

        if list_profiles:
            for name in builtin_profiles():
                out.print(f"{name:<12} {load_profile(name).description}", markup=False)
            return
        try:
            device_list = parse_devices(devices, prefix, token)
            profiles = parse_profiles(profile or ["room"])
            options = RunOptions(
                rate=rate,
                duration_s=duration if duration is not None or count is not None else DEFAULT_DURATION_S,
                count=count,
                seed=seed,
                speed=parse_speed(speed),
                timestamps="original" if timestamps is TimestampMode.ORIGINAL else "now",
                offset_s=offset,
                max_in_flight=max_in_flight,
            )
            sender = build_transport(transport, broker, url, api_key, qos, payload_format, batch_size)
            runner = Runner(device_list, profiles, sender, options)
        except InvalidInput as exc:
            fail(exc.detail)
        to_stderr = transport is TransportKind.STDOUT
        stats = run_async(_run(runner, quiet or to_stderr))
        print_summary(stats, rate, to_stderr)
        if stats.sent == 0 and stats.failed > 0:
            raise typer.Exit(1)


async def _run(runner: "Runner", quiet: bool) -> "Stats":
    """Run with a progress bar on stderr; Ctrl-C stops the run and still prints the summary."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not in the main thread
        loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        if quiet:
            return await runner.run(stop=stop)
        planned = runner.stats.planned
        with Progress(
            TextColumn("[bold]simulate"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("simulate", total=planned, detail="")

            def show(stats: "Stats") -> None:
                detail = (
                    f"sent {stats.sent} failed {stats.failed} dropped {stats.dropped} "
                    f"{stats.achieved_rate:.0f} msg/s"
                )
                bar.update(task, completed=stats.slots, detail=detail)

            return await runner.run(progress=show, stop=stop)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)
