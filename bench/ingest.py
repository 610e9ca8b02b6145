"""Ingest benchmarks, each beside a raw baseline measured in the same run.

1. HTTP batch ingest (a real ``iplus up`` process, loopback HTTP) vs a raw pipeline on the same bodies:
   decoded with the same JSON library and appended straight to a DuckDB file in-process (no HTTP,
   no auth, no validation, no twin); plus DuckDB's own bulk append rate for scale.
2. MQTT ingest through Mosquitto (every message stored) vs a bare aiomqtt subscriber's receive rate.
3. Publish-to-SSE latency, p50 and p99, at 2,000 messages/s.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import multiprocessing
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt
import duckdb
import httpx
import orjson
import pyarrow as pa
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.platform import RunningPlatform, broker_port, free_port, set_up_tenant, start
from bench.report import row

KEYS = [f"k{i}" for i in range(10)]
# aiomqtt warns for every publish beyond ten in flight; the bench keeps 500 in flight on purpose
logging.getLogger("mqtt").setLevel(logging.ERROR)
DEVICES = 100
MESSAGES_PER_BODY = 1000
BODIES = 40  # 40 x 1000 messages x 10 readings = 400,000 readings


def bodies() -> list[bytes]:
    """Batch bodies: each message a device's ten values at one time, with a message id."""
    out = []
    t0 = 1_764_000_000
    for b in range(BODIES):
        messages = []
        for m in range(MESSAGES_PER_BODY):
            n = b * MESSAGES_PER_BODY + m
            messages.append(
                {
                    "device_id": f"dev-{n % DEVICES}",
                    "msg_id": f"b{n}",
                    "ts": t0 + n / 1000,
                    "values": {k: (n * 7 + i) % 1000 / 10 for i, k in enumerate(KEYS)},
                }
            )
        out.append(orjson.dumps({"messages": messages}))
    return out


async def http_ingest(platform: RunningPlatform, payloads: list[bytes]) -> float:
    """Readings/s through the platform's batch endpoint, two requests in flight."""
    headers = {"X-API-Key": platform.api_key, "content-type": "application/json"}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    async with httpx.AsyncClient(base_url=platform.base_url, timeout=120) as client:

        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                r = await client.post("/api/v1/telemetry", content=body, headers=headers)
                r.raise_for_status()
                assert r.json()["stored"] == MESSAGES_PER_BODY, r.text

        start_t = time.perf_counter()
        await asyncio.gather(worker(), worker())
        elapsed = time.perf_counter() - start_t
    return BODIES * MESSAGES_PER_BODY * len(KEYS) / elapsed


def raw_pipeline(payloads: list[bytes]) -> tuple[float, float]:
    """(readings/s of decode + append straight to DuckDB, readings/s of DuckDB's append alone)."""
    path = Path(tempfile.mkdtemp()) / "raw.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE readings (org_id VARCHAR, type_id VARCHAR, device_id VARCHAR, key VARCHAR, "
        "ts TIMESTAMP, num DOUBLE, txt VARCHAR, flag BOOLEAN)"
    )
    tables = []
    start_t = time.perf_counter()
    for body in payloads:
        devices, keys, ts, nums = [], [], [], []
        for m in orjson.loads(body)["messages"]:
            for k, v in m["values"].items():
                devices.append(m["device_id"])
                keys.append(k)
                ts.append(int(m["ts"] * 1_000_000))
                nums.append(v)
        n = len(nums)
        table = pa.table(
            {
                "org_id": pa.array(["o"] * n),
                "type_id": pa.array(["t"] * n),
                "device_id": pa.array(devices),
                "key": pa.array(keys),
                "ts": pa.array(ts, pa.timestamp("us")),
                "num": pa.array(nums, pa.float64()),
                "txt": pa.nulls(n, pa.string()),
                "flag": pa.nulls(n, pa.bool_()),
            }
        )
        tables.append(table)
        con.register("batch", table)
        con.execute("INSERT INTO readings SELECT * FROM batch")
        con.unregister("batch")
    pipeline = sum(t.num_rows for t in tables) / (time.perf_counter() - start_t)
    big = pa.concat_tables(tables)
    start_t = time.perf_counter()
    con.register("big", big)
    con.execute("INSERT INTO readings SELECT * FROM big")
    store_only = big.num_rows / (time.perf_counter() - start_t)
    con.close()
    return pipeline, store_only


MQTT_MESSAGES = 50_000


async def publish_all(
    port: int,
    topic_of: list[str],
    payloads: list[bytes],
    rate: float | None = None,
    login: tuple[str, str] | None = None,
    window_size: int = 500,
) -> None:
    """Publish at QoS 1 from one client (optionally paced to ``rate`` per second)."""
    user, password = login or (None, None)
    async with aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=f"bench-pub-{time.monotonic_ns()}",
        username=user,
        password=password,
        max_inflight_messages=1000,
    ) as pub:
        start_t = time.perf_counter()
        window: list[asyncio.Task[None]] = []
        for i, (topic, payload) in enumerate(zip(topic_of, payloads, strict=True)):
            if rate is not None:
                wait = start_t + i / rate - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
            # keep up to window_size publishes waiting for their PUBACK at once
            window.append(asyncio.create_task(pub.publish(topic, payload, qos=1)))
            if len(window) >= window_size:
                await asyncio.gather(*window)
                window = []
        await asyncio.gather(*window)


async def blast(port: int, prefix: str, n: int, payload_of: object) -> None:
    """Publish n messages at QoS 1 with ten mosquitto_pub processes (C clients), one topic each."""
    procs = []
    for d in range(10):
        lines = b"\n".join(payload_of(i) for i in range(d, n, 10)) + b"\n"  # type: ignore[operator]
        proc = await asyncio.create_subprocess_exec(
            "mosquitto_pub",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-q",
            "1",
            "-l",
            "-t",
            f"{prefix}/dev-{d}/telemetry",
            "-i",
            f"bench-blast-{d}-{time.monotonic_ns()}",
            stdin=asyncio.subprocess.PIPE,
        )
        procs.append((proc, lines))
    await asyncio.gather(*(proc.communicate(lines) for proc, lines in procs))


def private_mosquitto() -> tuple[subprocess.Popen[bytes], int]:
    """A Mosquitto of the bench's own with unlimited queues: the system one's defaults (20 in
    flight, 1,000 queued per client) drop QoS 1 messages a busy subscriber has not acknowledged."""
    folder = Path(tempfile.mkdtemp(prefix="bench-mosquitto-"))
    port = free_port()
    (folder / "m.conf").write_text(
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
        "max_queued_messages 0\nmax_inflight_messages 0\npersistence false\n"
    )
    proc = subprocess.Popen(
        ["mosquitto", "-c", str(folder / "m.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    return proc, port


async def bare_subscriber(port: int, n: int) -> float:
    """Messages/s a bare aiomqtt subscriber receives at QoS 1 through Mosquitto."""
    prefix = f"bench/{time.monotonic_ns()}"
    payloads = [orjson.dumps({"k0": float(i), "msg_id": f"m{i}"}) for i in range(n)]
    # the same client library and protocol settings as the platform's: MQTT 5, receive maximum 65535
    connect = Properties(PacketTypes.CONNECT)
    connect.ReceiveMaximum = 65535
    async with aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier=f"bench-sub-{time.monotonic_ns()}",
        protocol=aiomqtt.ProtocolVersion.V5,
        properties=connect,
    ) as sub:
        await sub.subscribe(f"{prefix}/+/telemetry", qos=1)
        got = 0
        start_t = time.perf_counter()
        publisher = asyncio.create_task(blast(port, prefix, n, lambda i: payloads[i]))
        async for _ in sub.messages:
            got += 1
            if got == n:
                break
        elapsed = time.perf_counter() - start_t
        await publisher
    return n / elapsed


async def platform_mqtt(platform: RunningPlatform, port: int, n: int) -> float:
    """Messages/s the platform stores from Mosquitto (until the last one is in the store)."""
    payloads = [orjson.dumps({"k0": float(i), "msg_id": f"mq{i}"}) for i in range(n)]
    headers = {"X-API-Key": platform.api_key}
    async with httpx.AsyncClient(base_url=platform.base_url, timeout=30) as client:

        async def stored() -> int:
            r = await client.get(
                "/api/v1/telemetry/aggregate",
                headers=headers,
                params={
                    "keys": "k0",
                    "bucket": 366 * 86400,
                    "aggregates": "count",
                    "group": "true",
                    "start": "2026-01-01T00:00:00Z",
                },
            )
            return int(sum(b["values"]["count"] for b in r.json()))

        before = await stored()
        start_t = time.perf_counter()
        await blast(port, "iplus/v1/devices", n, lambda i: payloads[i])
        while await stored() < before + n:  # noqa: ASYNC110 - polling the API is the measurement
            await asyncio.sleep(0.05)
        return n / (time.perf_counter() - start_t)


async def read_sse_latencies(base_url: str, api_key: str, n: int, ready: Any, published: Any) -> list[float]:
    """Milliseconds from publish (time carried in the payload) to each event on the SSE stream."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=None) as client:
        async with client.stream("GET", "/api/v1/stream", headers={"X-API-Key": api_key}) as stream:
            lines = stream.aiter_lines()
            await anext(lines)  # ": connected"
            ready.set()

            async def read() -> None:
                async for line in lines:
                    if line.startswith("data: "):
                        event = orjson.loads(line[6:])
                        if event.get("type") == "reading" and "sent" in event["values"]:
                            latencies.append((time.time() - event["values"]["sent"]) * 1000)
                            if len(latencies) >= n:
                                return

            reader = asyncio.create_task(read())
            # the publisher's end is signalled across processes: wait for it in a thread
            done_publishing = asyncio.create_task(asyncio.to_thread(published.wait))
            await asyncio.wait({reader, done_publishing}, return_when=asyncio.FIRST_COMPLETED)
            try:
                await asyncio.wait_for(reader, 10)  # what has not arrived 10 s after the last publish
            except TimeoutError:
                pass  # the count printed beside the percentiles shows what did not arrive
    return latencies


async def publish_stamped(port: int, n: int, rate: float, login: tuple[str, str] | None) -> None:
    """One device publishing n messages at ``rate``, each stamped with its send time, waiting for PUBACKs."""
    # one device publishes them all: the embedded broker lets a device use its own topic only
    topics = ["iplus/v1/devices/dev-0/telemetry"] * n

    class Stamped(list[bytes]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            for i in range(n):
                yield orjson.dumps({"sent": time.time(), "k0": float(i)})

        def __len__(self) -> int:
            return n

    await publish_all(port, topics, Stamped(), rate=rate, login=login, window_size=1)


def _reader_process(base_url: str, api_key: str, n: int, ready: Any, published: Any, out: Any) -> None:
    out.put(asyncio.run(read_sse_latencies(base_url, api_key, n, ready, published)))


def _publisher_process(port: int, n: int, rate: float, login: tuple[str, str] | None) -> None:
    asyncio.run(publish_stamped(port, n, rate, login))


async def sse_latency(
    platform: RunningPlatform, rate: float, seconds: float, port: int, login: tuple[str, str] | None
) -> list[float]:
    """Publish-to-SSE latencies in ms, the SSE reader and the publisher each in a process of its own."""
    # neither shares an event loop with the other or with the bench, so the figure is the platform's
    n = int(rate * seconds)
    spawn = multiprocessing.get_context("spawn")
    ready, published, out = spawn.Event(), spawn.Event(), spawn.Queue()
    reader = spawn.Process(
        target=_reader_process, args=(platform.base_url, platform.api_key, n, ready, published, out)
    )
    reader.start()
    if not await asyncio.to_thread(ready.wait, 60):
        reader.kill()
        raise RuntimeError("the SSE reader did not connect")
    publisher = spawn.Process(target=_publisher_process, args=(port, n, rate, login))
    publisher.start()
    await asyncio.to_thread(publisher.join)
    published.set()
    latencies: list[float] = await asyncio.to_thread(out.get)
    await asyncio.to_thread(reader.join)
    return latencies


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report_latency(broker: str, latencies: list[float]) -> None:
    """One line: p50 and p99 and how many of the 10,000 events arrived."""
    print(
        f"{'publish-to-SSE latency at 2,000 msg/s':<44} p50 {statistics.median(latencies):.1f} ms"
        f"   p99 {percentile(latencies, 0.99):.1f} ms   ({broker}, {len(latencies):,} of 10,000 events)"
    )


async def main() -> None:
    """Run all three and print each beside its baseline."""
    payloads = bodies()
    print(
        f"ingest benchmarks ({BODIES * MESSAGES_PER_BODY * len(KEYS):,} readings over HTTP; "
        f"{MQTT_MESSAGES:,} MQTT messages)"
    )
    platform = start()
    try:
        set_up_tenant(platform, DEVICES, [*KEYS, "sent"])
        http_rate = await http_ingest(platform, payloads)
        raw_rate, store_rate = await asyncio.to_thread(raw_pipeline, payloads)
        row("HTTP batch ingest (readings/s)", http_rate, raw_rate, "r/s", "raw pipeline")
        print(f"{'':44} DuckDB bulk append alone {store_rate:,.0f} r/s (for scale)")
        login = ("dev-0", platform.tokens["dev-0"])
        report_latency("embedded amqtt", await sse_latency(platform, 2000, 5, broker_port(platform), login))
    finally:
        platform.stop()
    mosquitto, port = private_mosquitto()
    external = start({"IPLUS_BROKER_URL": f"mqtt://127.0.0.1:{port}"})
    try:
        set_up_tenant(external, DEVICES, [*KEYS, "sent"])
        bare = await bare_subscriber(port, MQTT_MESSAGES)
        stored = await platform_mqtt(external, port, MQTT_MESSAGES)
        row("MQTT ingest via Mosquitto (msg/s, QoS 1)", stored, bare, "m/s", "bare subscriber")
        report_latency("Mosquitto", await sse_latency(external, 2000, 5, port, None))
    finally:
        external.stop()
        mosquitto.terminate()
