"""The baseline: a minimal FastAPI + SQLModel app doing one primary-key update per request.

Served exactly as the real app is (same uvicorn command line), against its own PostgreSQL database,
with the same engine settings as api.db (pool of 10 + 10 overflow, pre-ping) and the same kind of
route: a plain `def` (run in the thread pool) with a session dependency that commits before the
response is sent. `uvicorn bench.baseline_app:app` reads BASELINE_DATABASE_URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlmodel import Field, Session, SQLModel, create_engine

ITEMS = 256


class Item(SQLModel, table=True):
    __tablename__ = "bench_item"

    id: int | None = Field(default=None, primary_key=True)
    value: int = 0
    version: int = 0


class ItemUpdate(BaseModel):
    value: int


class ItemPublic(BaseModel):
    id: int
    value: int
    version: int


def _url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def prepare(url: str, items: int = ITEMS) -> None:
    """Create the table and its rows (called once by the bench, before the server starts)."""
    engine = create_engine(_url(url))
    try:
        SQLModel.metadata.create_all(engine, tables=[Item.__table__])  # type: ignore[attr-defined]
        with Session(engine) as session:
            session.add_all(Item(id=i, value=0, version=0) for i in range(1, items + 1))
            session.commit()
    finally:
        engine.dispose()


engine = (
    create_engine(
        _url(os.environ["BASELINE_DATABASE_URL"]), pool_size=10, max_overflow=10, pool_pre_ping=True
    )
    if "BASELINE_DATABASE_URL" in os.environ
    else None
)
app = FastAPI(title="Baseline")


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session
        session.commit()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@app.put("/items/{item_id}", response_model=ItemPublic)
def put_item(item_id: int, body: ItemUpdate, session: SessionDep) -> ItemPublic:
    version = session.execute(
        update(Item)
        .where(Item.id == item_id)  # type: ignore[arg-type]
        .values(value=body.value, version=Item.version + 1)
        .returning(Item.version)  # type: ignore[arg-type]
    ).scalar_one_or_none()
    if version is None:
        raise HTTPException(404, "No such item")
    return ItemPublic(id=item_id, value=body.value, version=version)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
