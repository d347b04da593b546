"""The submitted form as a dependency, so page routes stay synchronous.

Parsing the body is the only async step; it happens here, in the event loop. The route itself then
runs in the thread pool, where its database work (row locks included) may wait without blocking
every other request on this worker.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData


async def read_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]
