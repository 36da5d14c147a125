"""The scoring API under load: p50 / p95 / p99 latency, throughput and errors per endpoint and concurrency.

Starts ``churn-platform serve`` on a data folder that has a champion and a published dashboard snapshot (the
demo's, or ``--prepare N`` simulates and materializes N customers first), creates a throw-away API key, then
for each endpoint (``GET /v1/customers/{id}/risk`` over random scored customers, ``POST /v1/score`` with random
rows of the latest feature snapshot) and each number of concurrent clients (1, 10, 50) keeps that many clients
busy for ``--seconds`` (60) with keep-alive connections, and prints a table. The load comes from this machine
too (one client process, asyncio + aiohttp): on 2 cores the client and the server share the CPU.
Usage: python benchmarks/api.py [--data-dir data] [--seconds 60] [--clients 1 10 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from score import prepare_platform  # this folder, beside the script

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _feature_rows(data_dir: Path, columns: list[str], n: int = 2000) -> list[dict[str, object]]:
    """Rows of the latest scoring set (the warehouse, read-only: run this when no pipeline writes)."""
    import duckdb

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        sample = con.execute(f"select * from ml_scoring_set using sample {n} rows (reservoir, 0)").df()[
            columns
        ]
    finally:
        con.close()
    rows = []
    for record in sample.to_dict("records"):
        rows.append({k: (None if isinstance(v, float) and np.isnan(v) else v.item() if hasattr(v, "item") else v)
                     for k, v in record.items()})  # fmt: skip
    return rows


async def _load(
    url: str, key: str, clients: int, seconds: float, make: object
) -> tuple[list[float], int, int]:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"Authorization": f"Bearer {key}"}

    async def client(session: aiohttp.ClientSession, seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            method, path, body = make(rng)  # type: ignore[operator]
            started = time.perf_counter()
            try:
                async with session.request(method, url + path, json=body, headers=headers) as answer:
                    await answer.read()
                    ok = answer.status == 200
            except aiohttp.ClientError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += 0 if ok else 1

    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session, i) for i in range(clients)))
    return latencies, errors, len(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--prepare", type=int, default=0, help="simulate and materialize N customers first")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--endpoints", nargs="+", default=["risk", "score"])
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    if args.prepare:
        prepare_platform(data_dir, args.prepare)
    worklist = pd.read_parquet(data_dir / "published" / "dashboard" / "worklist.parquet")
    ids = worklist["customer_id"].astype(str).tolist()
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        keys = Path(tmp) / "keys.json"
        env = {**os.environ, "CHURN_DATA_DIR": str(data_dir), "CHURN_API_KEYS_FILE": str(keys)}
        cli = str(Path(sys.executable).with_name("churn-platform"))
        created = subprocess.run([cli, "api-key", "create", "--name", "benchmark", "--scope", "read", "--scope", "score"],
                                 env=env, check=True, capture_output=True, text=True)  # fmt: skip
        key = created.stdout.strip().splitlines()[-1]
        log = (Path(tmp) / "server.log").open("w")
        server = subprocess.Popen([cli, "serve", "--port", str(port), "--workers", str(args.workers)],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(url + "/v1/health", timeout=2) as answer:
                        health = json.loads(answer.read())
                        if health["status"] == "ok":
                            break
                except OSError:
                    pass
                time.sleep(0.5)
            else:
                raise SystemExit(
                    f"the API never became healthy: {(Path(tmp) / 'server.log').read_text()[-2000:]}"
                )
            request = urllib.request.Request(url + "/v1/model", headers={"Authorization": f"Bearer {key}"})
            with urllib.request.urlopen(request) as answer:
                model = json.loads(answer.read())
            rows = _feature_rows(data_dir, model["numeric_features"] + model["categorical_features"])
            makers = {
                "risk": (
                    "GET /v1/customers/{id}/risk",
                    lambda rng: ("GET", f"/v1/customers/{rng.choice(ids)}/risk", None),
                ),
                "score": (
                    "POST /v1/score",
                    lambda rng: ("POST", "/v1/score", {"features": rng.choice(rows)}),
                ),
            }
            print(f"champion v{health['champion_version']}, {health['customers']:,} published customers, "
                  f"{len(model['numeric_features']) + len(model['categorical_features'])} features, "
                  f"{args.workers} worker(s), {os.cpu_count()} CPUs, {args.seconds:.0f} s per cell")  # fmt: skip
            print()
            print(
                "| endpoint | clients | requests | throughput (req/s) | p50 (ms) | p95 (ms) | p99 (ms) | errors |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for endpoint in args.endpoints:
                title, make = makers[endpoint]
                asyncio.run(_load(url, key, 2, 2.0, make))  # warm-up (models, caches, connections)
                for clients in args.clients:
                    latencies, errors, count = asyncio.run(_load(url, key, clients, args.seconds, make))
                    ms = np.asarray(latencies) * 1000
                    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
                    print(f"| `{title}` | {clients} | {count:,} | {count / args.seconds:,.0f} | {p50:.1f} | "
                          f"{p95:.1f} | {p99:.1f} | {errors} |", flush=True)  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
