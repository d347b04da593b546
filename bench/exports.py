"""Issue 20's rows: heavy exports beside autosave, the PDF first and repeated, sector reads.

Each row is measured on this tree ("after") and, in the same run, on a copy of the tree before
issue 20 (`--before REV`, extracted with `git archive` to a temporary folder and served by the same
command line from there; same database): "before".

- **Autosave beside heavy downloads**: 64 clients saving once a second (paced, as in the main
  table) while 4 other board members each download their board report (PDF) and workbook (XLSX)
  back to back, on 1 worker (`make run`'s setting) and on 2. "after" is the realistic case (the
  same files downloaded again: kept in the database after the first); "after, every download
  renders" turns the kept files off (EXPORT_CACHE=false), so each download renders in the export
  process pool: what the pool alone buys.
- **PDF board report**: the first download of each of a trust's assessments (a render), and
  repeated downloads of one unchanged assessment (kept).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench import load


@dataclass
class DownloadWorker:
    """A board member downloading their board report and workbook, one after the other, forever."""

    token: str
    assessment_id: int
    n: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def next_request(self) -> tuple[str, str, dict[str, str], bytes]:
        self.n += 1
        what = "report.pdf" if self.n % 2 else "export.xlsx"
        return (
            "GET",
            f"/api/v1/assessments/{self.assessment_id}/{what}",
            {"Authorization": f"Bearer {self.token}"},
            b"",
        )

    def answered(self, status: int, body: bytes) -> bool:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        return status == 200


@dataclass
class BesideRow:
    label: str
    workers: int
    autosave: load.LoadResult
    downloads: int
    download_seconds: float
    download_statuses: dict[int, int]


async def autosave_beside_downloads(
    label: str,
    port: int,
    savers: list[load.AutosaveWorker],
    downloaders: list[DownloadWorker],
    *,
    seconds: float,
    warmup: float,
    pace: float,
    workers: int,
) -> BesideRow:
    """Paced autosave (measured) while the downloaders run closed loop (counted)."""
    for d in downloaders:
        d.statuses.clear()
    stop = asyncio.Event()
    done = 0
    download_seconds = 0.0

    async def downloader(worker: DownloadWorker) -> None:
        nonlocal done, download_seconds
        connection = load.Connection(port)
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                began = loop.time()
                status, _body, _ok, elapsed = await load._exchange(connection, worker)
                done += 1
                download_seconds += elapsed
                if status == 429:
                    await asyncio.sleep(0.2)
                del began
        finally:
            await connection.close()

    tasks = [asyncio.create_task(downloader(d)) for d in downloaders]
    try:
        result = await load.run_load(
            f"autosave (paced) beside downloads, {label}",
            port,
            savers,
            seconds=seconds,
            warmup=warmup,
            max_requests=1_000_000,
            pace=pace,
        )
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    statuses: dict[int, int] = {}
    for d in downloaders:
        for status, count in d.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return BesideRow(label, workers, result, done, download_seconds, statuses)


def trust_assessments(database_url: str, assessment_id: int) -> list[int]:
    """Every assessment of the trust that owns `assessment_id` (one per cycle)."""
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        rows = connection.execute(
            "SELECT id FROM assessment WHERE organisation_id ="
            " (SELECT organisation_id FROM assessment WHERE id = %s) ORDER BY id",
            (assessment_id,),
        ).fetchall()
    return [row[0] for row in rows]


async def first_and_repeat(
    port: int, chair: dict[str, str], assessments: list[int], repeat_id: int, *, count: int
) -> tuple[load.LatencyResult, load.LatencyResult]:
    """The first download of each assessment's board report (each a render), then repeated
    downloads of one whose report is already kept."""
    first: list[float] = []
    errors = 0
    size = 0
    status = 0
    for assessment_id in assessments:
        one = await load.sequential(
            "first",
            port,
            f"/api/v1/assessments/{assessment_id}/report.pdf",
            chair,
            count=1,
            seconds=60,
            warmup=0,
        )
        first += one.latencies_ms
        errors += one.errors
        size, status = one.size_bytes, one.status
    repeat = await load.sequential(
        f"PDF board report, repeated (assessment {repeat_id})",
        port,
        f"/api/v1/assessments/{repeat_id}/report.pdf",
        chair,
        count=count,
        seconds=20,
        warmup=1,
    )
    return load.LatencyResult("PDF board report, first download", first, errors, status, size), repeat


def extract_tree(project_root: Path, revision: str, into: Path) -> Path:
    """The tree at `revision`, as files (git archive), to serve the "before" figures from."""
    import subprocess

    archive = subprocess.run(
        ["git", "-C", str(project_root), "archive", revision], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into
