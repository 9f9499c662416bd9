"""The request file read by wrk's Lua script, the HTTP checker and the in-process runner.

Each record is a header line ``<path?query>\\t<body length>\\t<content>\\n`` followed by the body
bytes. ``content`` is the text the message carries (percent-free, no tab), for checking the echo.
Standard library only: the in-process runner reads it inside the peers' virtualenvs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote


@dataclass(frozen=True, slots=True)
class Record:
    """One signed request: the request target, the body and the text it carries."""

    target: str
    body: bytes
    content: str

    @property
    def path(self) -> str:
        """The path without the query."""
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        """The query string without the ``?``."""
        return self.target.partition("?")[2]


def write(path: Path, records: Iterable[Record]) -> int:
    """Write ``records`` to ``path``; return how many were written."""
    count = 0
    with path.open("wb") as handle:
        for record in records:
            header = f"{record.target}\t{len(record.body)}\t{quote(record.content)}\n"
            handle.write(header.encode("ascii"))
            handle.write(record.body)
            count += 1
    return count


def read(path: Path, limit: int | None = None) -> Iterator[Record]:
    """Yield the records of ``path`` in order, at most ``limit`` of them."""
    data = path.read_bytes()
    position = 0
    count = 0
    while position < len(data) and (limit is None or count < limit):
        end = data.index(b"\n", position)
        target, length, content = data[position:end].decode("ascii").split("\t")
        start = end + 1
        stop = start + int(length)
        yield Record(target, data[start:stop], unquote(content))
        position = stop
        count += 1
