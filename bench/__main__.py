"""`python -m bench [--quick] [--scale reference|stretch|both]`: seed, serve, load, report.

Everything runs on this machine against PostgreSQL on 127.0.0.1:5432: fresh bench_* databases
(dropped at the end), the app and the baseline served by the same uvicorn command line on free
loopback ports (one server at a time), and the load generator in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyotp

from api.settings import PROJECT_ROOT
from bench import baseline_app, exports, load, report
from bench.seed import SCALES, SeedResult, drop_database, reachable, seed, server_facts

CLIENTS = 64
# The paced round: each client saves once a second (64 saves a second in all). A board member
# answers a criterion at a time, after reading it; the page autosaves on each change.
PACE_SECONDS = 1.0


def uvicorn_args(app: str, port: int, workers: int) -> list[str]:
    return [
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--no-access-log",
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A uvicorn subprocess in its own process group, stopped (group and all) on exit."""

    def __init__(
        self, label: str, app: str, env: dict[str, str], workers: int, log_dir: Path, cwd: Path | None = None
    ) -> None:
        self.label = label
        self.cwd = cwd or PROJECT_ROOT
        self.port = free_port()
        self.args = uvicorn_args(app, self.port, workers)
        self.log_path = log_dir / f"{label}.log"
        self.env = {**os.environ, **env}
        if cwd is not None:  # another tree (the "before" of bench/exports.py): its code first
            self.env["PYTHONPATH"] = str(cwd)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} server exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.label} server did not answer /healthz in 60 s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return ""


@contextmanager
def serving(
    label: str, app: str, env: dict[str, str], workers: int, log_dir: Path, cwd: Path | None = None
) -> Iterator[Server]:
    server = Server(label, app, env, workers, log_dir, cwd).start()
    try:
        yield server
    finally:
        server.stop()


def app_env(url: str) -> dict[str, str]:
    # API_DOCS: /openapi.json, which the bench reads to see which routes a tree has.
    return {
        "DATABASE_URL": url,
        "ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "API_DOCS": "true",
    }


# --- Talking to the app (set-up, not measured) -------------------------------------------------------


async def tokens(port: int, people: list[tuple[str, str | None]], password: str) -> dict[str, str]:
    """Bearer tokens by email, four sign-ins at a time (argon2 is slow on purpose)."""
    limit = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

        async def one(email: str, totp_secret: str | None) -> tuple[str, str]:
            for _attempt in range(3):
                data = {"username": email, "password": password}
                if totp_secret:
                    data["otp"] = pyotp.TOTP(totp_secret).now()
                async with limit:
                    response = await client.post("/api/v1/auth/token", data=data)
                if response.status_code != 401 or not totp_secret:
                    break
                # A two-factor code works once: the last server's sign-in (a moment ago, same 30 s
                # step) used it. Wait for the next step's code.
                await asyncio.sleep(30 - time.time() % 30 + 1)
            response.raise_for_status()
            return email, response.json()["access_token"]

        return dict(await asyncio.gather(*(one(e, s) for e, s in people)))


async def current_versions(port: int, token: str, assessment_id: int) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        response = await client.get(
            f"/api/v1/assessments/{assessment_id}/ratings", headers={"Authorization": f"Bearer {token}"}
        )
        response.raise_for_status()
        return {r["criterion_key"]: r["version"] for r in response.json()}


def has_route(port: int, path: str) -> bool:
    paths = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=30).json().get("paths", {})
    return path in paths


# --- The measurements -------------------------------------------------------------------------------


async def read_latencies(
    port: int, result: SeedResult, quick: bool, with_pdf: bool
) -> tuple[list[load.LatencyResult], load.LatencyResult | None, str]:
    """Benchmark, heatmap (and the PDF report) one request at a time, warmed up."""
    from bench.seed import PASSWORD

    people = [(result.chair_email, None), (result.analyst_email, result.analyst_totp_secret)]
    issued = await tokens(port, people, PASSWORD)
    chair = {"Authorization": f"Bearer {issued[result.chair_email]}"}
    analyst = {"Authorization": f"Bearer {issued[result.analyst_email]}"}
    count, seconds = (10, 5.0) if quick else (40, 15.0)
    cycle = result.open_cycle.replace("/", "%2F")
    reads = [
        ("benchmark", f"open cycle, group=all (assessment {result.submitted_open})", chair,
         f"/api/v1/assessments/{result.submitted_open}/benchmark?group=all"),
        ("benchmark", f"open cycle, group=trust_type (assessment {result.submitted_open})", chair,
         f"/api/v1/assessments/{result.submitted_open}/benchmark?group=trust_type"),
        ("benchmark", f"closed cycle {result.closed_cycle}, group=all (assessment {result.submitted_closed})",
         chair, f"/api/v1/assessments/{result.submitted_closed}/benchmark?group=all"),
        ("heatmap", f"{result.open_cycle} by trust_type", analyst,
         f"/api/v1/sector/heatmap?cycle={cycle}&by=trust_type"),
        ("heatmap", f"{result.open_cycle} by region", analyst,
         f"/api/v1/sector/heatmap?cycle={cycle}&by=region"),
    ]  # fmt: skip
    measured = []
    for kind, label, headers, path in reads:
        latency = await load.sequential(f"{kind}: {label}", port, path, headers, count=count, seconds=seconds)
        latency.kind = kind  # type: ignore[attr-defined]
        latency.path = path  # type: ignore[attr-defined]
        measured.append(latency)
    pdf = None
    note = ""
    if with_pdf:
        path = f"/api/v1/assessments/{result.submitted_open}/report.pdf"
        if has_route(port, "/api/v1/assessments/{assessment_id}/report.pdf"):
            pdf = await load.sequential(
                f"PDF board report (assessment {result.submitted_open})",
                port,
                path,
                chair,
                count=3 if quick else 8,
                seconds=20.0 if quick else 40.0,
                warmup=1,
            )
            pdf.path = path  # type: ignore[attr-defined]
        else:
            note = "GET /api/v1/assessments/{id}/report.pdf is not in this build yet: not measured."
    return measured, pdf, note


async def autosave_workers(port: int, result: SeedResult) -> list[load.AutosaveWorker]:
    from bench.seed import PASSWORD

    raters = result.raters[:CLIENTS]
    if len(raters) < CLIENTS:
        raise RuntimeError(f"only {len(raters)} raters with an open assessment; {CLIENTS} needed")
    issued = await tokens(port, [(r.email, None) for r in raters], PASSWORD)
    workers = []
    for rater in raters:
        versions = await current_versions(port, issued[rater.email], rater.assessment_id)
        workers.append(
            load.AutosaveWorker(issued[rater.email], rater.assessment_id, rater.criteria, versions)
        )
    return workers


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def log(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="reference scale only, short runs (a smoke test)"
    )
    parser.add_argument("--scale", choices=("reference", "stretch", "both"), default=None)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2: the two cores)")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds per load run")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the report (default docs/performance.md for a full run; none for --quick)",
    )
    parser.add_argument(
        "--before",
        default=None,
        metavar="REV",
        help="also serve the tree at this git revision (git archive) for issue 20's before-and-after rows",
    )
    args = parser.parse_args(argv)
    scale = args.scale or ("reference" if args.quick else "both")
    scales = ["reference", "stretch"] if scale == "both" else [scale]
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    warmup = 2.0 if args.quick else 4.0
    rounds = 1 if args.quick else 2
    max_requests = 200_000
    output = args.output
    if output is None and not args.quick and scale == "both":
        output = PROJECT_ROOT / "docs" / "performance.md"

    if not reachable():
        log("PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres): start it first.")
        return 2

    given = sys.argv[1:] if argv is None else argv
    # Ctrl+C and SIGTERM raise KeyboardInterrupt wherever the run is, so the servers are stopped
    # and the databases dropped. Our own handler, not asyncio.run's: that one only cancels the
    # running task, and a cancellation that meets a finishing request can be lost (Python 3.11).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    run = report.Run(
        started=datetime.now(UTC),
        command=" ".join(["python -m bench", *map(shlex.quote, given)]),
        quick=args.quick,
        scales=scales,
        machine={
            "nproc": str(os.cpu_count()),
            "cpu": report.cpu_model(),
            "python": platform.python_version(),
            "load_start": report.load_average(),
            **{f"postgresql_{k}": v for k, v in server_facts().items()},
        },
        server_command="uvicorn "
        + shlex.join(uvicorn_args("api.asgi:app", 0, args.workers)).replace("--port 0", "--port <free port>"),
        baseline_command="uvicorn "
        + shlex.join(uvicorn_args("bench.baseline_app:app", 0, args.workers)).replace(
            "--port 0", "--port <free port>"
        ),
        clients=CLIENTS,
        seconds=seconds,
        warmup=warmup,
        rounds=rounds,
        max_requests=max_requests,
    )
    databases: list[str] = []
    with ExitStack() as cleanup, tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        cleanup.callback(lambda: [drop_database(name) for name in reversed(databases)])
        log_dir = Path(logs)
        before_dir = None
        if args.before:
            before_dir = Path(tempfile.mkdtemp(prefix="bench-before-", dir=logs))
            exports.extract_tree(PROJECT_ROOT, args.before, before_dir)
            run.issue20_before = args.before
        try:
            for name in scales:
                run.machine[f"load_before_{name}"] = report.load_average()
                log(f"Seeding the {name} scale ...")
                result = seed(SCALES[name], log=log)
                databases.append(result.database)
                run.seeds[name] = result
                log(f"  seeded in {result.seconds:.1f} s ({result.database}): "
                    + ", ".join(f"{phase} {t:.1f} s" for phase, t in result.phases.items()))  # fmt: skip
                with serving(
                    f"app-{name}", "api.asgi:app", app_env(result.url), args.workers, log_dir
                ) as app:
                    log(f"  {name}: benchmark and heatmap latency ...")
                    reads, pdf, note = asyncio.run(
                        read_latencies(app.port, result, args.quick, with_pdf=name == "reference")
                    )
                    run.latencies[name] = reads
                    if name == "reference":
                        run.pdf, run.pdf_note = pdf, note
                    if name == "reference":
                        workers = asyncio.run(autosave_workers(app.port, result))
                if name == "reference":
                    run_autosave(
                        run, result, workers, log_dir, args.workers, seconds, warmup, rounds, max_requests,
                        before_dir,
                    )  # fmt: skip
                run_issue20(run, name, result, workers if name == "reference" else [], log_dir, before_dir,
                            args.quick, seconds, warmup)  # fmt: skip
                if name != scales[-1]:
                    drop_database(result.database)
                    databases.remove(result.database)
        except KeyboardInterrupt:
            log("Interrupted: stopping the servers and dropping the bench databases.")
            return 130
    run.machine["load_end"] = report.load_average()
    report.print_table(run)
    if output is not None:
        output.write_text(report.markdown(run), encoding="utf-8")
        log(f"Wrote {output.relative_to(PROJECT_ROOT) if output.is_relative_to(PROJECT_ROOT) else output}")
    else:
        log("Report not written (quick or partial run): pass --output PATH to write one.")
    return 0


def autosave_first_pass(
    run: report.Run,
    result: SeedResult,
    workers: list[load.AutosaveWorker],
    log_dir: Path,
    server_workers: int,
) -> None:
    """Every client saves each of its criteria once, through the real API, before the measured rounds.

    The seed leaves the 64 members part-way through (each has rated none, a third, half or all of
    the criteria), so a client's first pass over its criteria is a mix of first answers (an insert,
    the member's progress and more: about twice the work of a change) and first changes of seeded
    ratings. Without this pass all of those land in round 1, as a share of it that depends on how
    fast the app is (a quarter to a half of round 1 in trials), which made round 1 up to twice as
    slow as round 2. After it, every round measures the same thing: changing an answer, which is what a
    busy week is made of (each answer is first given once, then autosaved many times). The pass is
    timed and printed, not hidden; it is not part of the ratio. (The first changes of seeded rows
    were checked too: they cost what later changes cost, so the seed's full pages are not a cause.)
    """
    before = sum(w.first_answers for w in workers)
    with serving("app-autosave", "api.asgi:app", app_env(result.url), server_workers, log_dir) as app:
        first = asyncio.run(
            load.run_pass(
                "autosave first pass", app.port, [(w, len(w.criteria)) for w in workers], timeout=600
            )
        )
    run.autosave_first_pass = first
    inserts = sum(w.first_answers for w in workers) - before
    log(
        f"  autosave first pass (not measured): each of {len(workers)} clients saved each of its "
        f"criteria once: {first.requests:,} saves, {inserts:,} of them first answers (insert), "
        f"{first.requests - inserts:,} changes of seeded ratings"
    )
    log(f"    {report.load_line(first)}")


def run_issue20(
    run: report.Run,
    scale: str,
    result: SeedResult,
    savers: list[load.AutosaveWorker],
    log_dir: Path,
    before_dir: Path | None,
    quick: bool,
    seconds: float,
    warmup: float,
) -> None:
    """Issue 20's rows (bench/exports.py), before (if --before) and after, in this run."""
    trees: list[tuple[str, Path | None, dict[str, str]]] = []
    if before_dir is not None:
        trees.append(("before", before_dir, {}))
    trees.append(("after", None, {}))
    run.issue20_scale = run.issue20_scale or scale
    # Sector and benchmark reads between refreshes, on the tree before as well.
    run.reads_compared.setdefault("after", []).extend(_named(r, scale) for r in run.latencies.get(scale, []))
    if before_dir is not None:
        with serving(f"before-{scale}", "api.asgi:app", app_env(result.url), 2, log_dir, before_dir) as app:
            log(f"  {scale}: benchmark and heatmap latency on the tree before ...")
            reads, _pdf, _note = asyncio.run(read_latencies(app.port, result, quick, with_pdf=False))
        run.reads_compared.setdefault("before", []).extend(_named(r, scale) for r in reads)
    if scale != "reference" or not savers:
        return
    from bench.seed import PASSWORD

    assessments = exports.trust_assessments(result.url, result.submitted_open)

    def first_and_repeat(label: str, cwd: Path | None, env: dict[str, str]) -> None:
        # One worker: every request of this row reaches the same worker (and its one export process).
        with serving(
            f"pdf-{label[:6]}", "api.asgi:app", {**app_env(result.url), **env}, 1, log_dir, cwd
        ) as app:
            log(f"  PDF first and repeated downloads ({label}) ...")
            issued = asyncio.run(tokens(app.port, [(result.chair_email, None)], PASSWORD))
            chair = {"Authorization": f"Bearer {issued[result.chair_email]}"}
            # The pool's process starts with the first export: one unmeasured workbook first.
            asyncio.run(load.sequential("warm", app.port, f"/api/v1/assessments/{assessments[0]}/export.xlsx",
                                        chair, count=0, seconds=60, warmup=1))  # fmt: skip
            first, repeat = asyncio.run(
                exports.first_and_repeat(
                    app.port,
                    chair,
                    [a for a in assessments if a != result.submitted_open],
                    result.submitted_open,
                    count=5 if quick else 10,
                )
            )
        run.pdf_first[label], run.pdf_repeat[label] = first, repeat
        log(
            f"    first p50 {first.p50:.0f} ms (n={first.n}), repeated p50 {repeat.p50:.1f} ms (n={repeat.n}), "
            f"errors {first.errors + repeat.errors} (last status {repeat.status})"
        )

    for label, cwd, env in trees:
        first_and_repeat(label, cwd, env)
    before = run.pdf_first.get("before")
    if before is not None and (before.errors or run.pdf_repeat["before"].errors):
        # The tree before cannot export from this database (its schema has moved on since): measure
        # this tree as it was before the pool and the kept files instead, and say so in the report.
        run.before_exports_failed = f"HTTP {before.status or run.pdf_repeat['before'].status}"
        log(
            f"    the tree before fails to export here ({run.before_exports_failed}): measuring {IN_WORKER} instead"
        )
        trees = [(IN_WORKER, None, IN_WORKER_ENV) if label == "before" else (label, cwd, env)
                 for label, cwd, env in trees]  # fmt: skip
        first_and_repeat(IN_WORKER, None, IN_WORKER_ENV)
    variants = [*trees, ("after, every download renders", None, {"EXPORT_CACHE": "false"})]
    downloaders = [
        exports.DownloadWorker(w.headers["Authorization"].removeprefix("Bearer "), w.assessment_id)
        for w in savers[:4]
    ]
    for server_workers in (1, 2):
        for label, cwd, env in variants:
            log(f"  autosave (paced) beside 4 downloaders, {label}, {server_workers} worker(s) ...")
            with serving(f"beside-{label[:6]}-{server_workers}", "api.asgi:app", {**app_env(result.url), **env},
                         server_workers, log_dir, cwd) as app:  # fmt: skip
                row = asyncio.run(
                    exports.autosave_beside_downloads(
                        label, app.port, savers, downloaders, seconds=seconds, warmup=warmup,
                        pace=PACE_SECONDS, workers=server_workers,
                    )
                )  # fmt: skip
            run.beside.append(row)
            log(f"    {report.load_line(row.autosave)}; downloads {row.downloads} {row.download_statuses}")


# This tree with exports rendered in the request's worker (a thread) and nothing kept: how every
# download worked before issue 20, for when the --before tree cannot export from today's schema.
IN_WORKER = "rendered in the worker, nothing kept"
IN_WORKER_ENV = {"EXPORT_PROCESSES": "0", "EXPORT_CACHE": "false"}


def _named(result: load.LatencyResult, scale: str) -> load.LatencyResult:
    return load.LatencyResult(f"{result.name} [{scale}]", result.latencies_ms, result.errors, result.status,
                              result.size_bytes)  # fmt: skip


def run_autosave(
    run: report.Run,
    result: SeedResult,
    workers: list[load.AutosaveWorker],
    log_dir: Path,
    server_workers: int,
    seconds: float,
    warmup: float,
    rounds: int,
    max_requests: int,
    before_dir: Path | None = None,
) -> None:
    """The autosave first pass, then baseline and autosave alternately, `rounds` times; one server
    at a time. With a tree from before (`--before`), each round also runs autosave on it, between
    the baseline and this tree's, so the ratio before and after comes from the same rounds."""
    from bench.seed import create_database

    autosave_first_pass(run, result, workers, log_dir, server_workers)
    name, url = create_database("baseline")
    try:
        baseline_app.prepare(url)
        baseline_env = {"BASELINE_DATABASE_URL": url}
        for round_number in range(1, rounds + 1):
            log(f"  round {round_number}/{rounds}: baseline, {CLIENTS} clients, {seconds:.0f} s ...")
            with serving("baseline", "bench.baseline_app:app", baseline_env, server_workers, log_dir) as b:
                clients = [load.BaselineWorker(i + 1) for i in range(CLIENTS)]
                run.baseline.append(
                    asyncio.run(
                        load.run_load(
                            "baseline",
                            b.port,
                            clients,
                            seconds=seconds,
                            warmup=warmup,
                            max_requests=max_requests,
                        )
                    )
                )
            log(f"    {report.load_line(run.baseline[-1])}")
            if before_dir is not None:
                log(f"  round {round_number}/{rounds}: autosave on the tree before, {CLIENTS} clients ...")
                with serving("before-autosave", "api.asgi:app", app_env(result.url), server_workers, log_dir,
                             before_dir) as app:  # fmt: skip
                    run.autosave_before.append(
                        asyncio.run(
                            load.run_load(
                                "autosave (before)", app.port, workers, seconds=seconds, warmup=warmup,
                                max_requests=max_requests,
                            )
                        )
                    )  # fmt: skip
                log(f"    {report.load_line(run.autosave_before[-1])}")
            log(f"  round {round_number}/{rounds}: autosave, {CLIENTS} clients, {seconds:.0f} s ...")
            with serving("app-autosave", "api.asgi:app", app_env(result.url), server_workers, log_dir) as app:
                run.autosave.append(
                    asyncio.run(
                        load.run_load(
                            "autosave",
                            app.port,
                            workers,
                            seconds=seconds,
                            warmup=warmup,
                            max_requests=max_requests,
                        )
                    )
                )
            log(f"    {report.load_line(run.autosave[-1])}")
        log(f"  paced: baseline then autosave, {CLIENTS} clients each saving every {PACE_SECONDS:g} s ...")
        with serving("baseline", "bench.baseline_app:app", baseline_env, server_workers, log_dir) as b:
            clients = [load.BaselineWorker(i + 1) for i in range(CLIENTS)]
            run.paced_baseline = asyncio.run(
                load.run_load(
                    "baseline (paced)",
                    b.port,
                    clients,
                    seconds=seconds,
                    warmup=warmup,
                    max_requests=max_requests,
                    pace=PACE_SECONDS,
                )
            )
        log(f"    {report.load_line(run.paced_baseline)}")
        with serving("app-autosave", "api.asgi:app", app_env(result.url), server_workers, log_dir) as app:
            run.paced_autosave = asyncio.run(
                load.run_load(
                    "autosave (paced)",
                    app.port,
                    workers,
                    seconds=seconds,
                    warmup=warmup,
                    max_requests=max_requests,
                    pace=PACE_SECONDS,
                )
            )
        log(f"    {report.load_line(run.paced_autosave)}")
    finally:
        drop_database(name)


if __name__ == "__main__":
    raise SystemExit(main())
