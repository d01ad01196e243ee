"""Statements compiled once, run on the bare driver: for the few statements run most often.

Through a ``Session``, each statement pays SQLAlchemy's execution machinery — a cache key, an
execution context, parameter and result processing set up per call — which costs several times
what SQLite takes to answer a small query. A ``Prepared`` statement is a Core statement compiled
once per dialect, with its parameter and result converters looked up once. ``fetch``,
``execute`` and ``execute_many`` run one on a sync ``Session``'s own connection, inside its
transaction (an ``AsyncSession``'s through ``run_sync``): the controllers' snapshot reads a dozen
selects every pass, its write updates every deployment, and gateways and agents report often.

Results and parameters convert as SQLAlchemy would convert them (``UTCDateTime`` gives aware
UTC datetimes, JSON columns decode).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None


class Compiled:
    """A statement compiled for one dialect, with its parameter and result converters.

    The final SQL — with any fixed ``IN`` list expanded into one parameter per item — and the
    parameters no caller gives are settled at the first call; every call gives the same names.
    A statement with an ``IN`` parameter is expanded at each call instead (its SQL depends on the
    length of the list), which costs a few microseconds more.
    """

    __slots__ = (
        "fixed",
        "order",
        "positional",
        "processors",
        "required",
        "results",
        "sql",
        "statement",
        "varying",
    )

    def __init__(
        self, statement: SQLCompiler, dialect: Dialect, columns: Sequence[Any], required: set[str]
    ) -> None:
        self.statement = statement
        self.required = required
        self.results: list[Processor] = [_result_processor(column, dialect) for column in columns]
        self.positional = dialect.positional
        self.sql = ""
        self.order: Sequence[str] = ()
        self.processors: dict[str, Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for bind, name in statement.bind_names.items()
        }
        self.fixed: dict[str, Any] | None = None
        self.varying = any(b.expanding and b.required for b in statement.binds.values())

    def bind(self, given: Mapping[str, Any] | None) -> tuple[str, Any]:
        """The SQL and the driver's parameters for it: a list in order (SQLite) or a dict by name
        (PostgreSQL)."""
        if self.varying:
            return self._expand(given)
        if self.fixed is None:
            missing = self.required - set(given or ())
            if missing:
                raise ValueError(f"no value given for {', '.join(sorted(missing))}")
            state = self.statement.construct_expanded_state(given)
            self.sql, self.order = state.statement, state.positiontup or ()
            self.processors.update(state.processors)  # the items of fixed IN lists
            self.fixed = {
                name: _convert(self.processors.get(name), value)
                for name, value in state.parameters.items()
                if given is None or name not in given
            }
        values = dict(self.fixed)
        if given:
            for name, value in given.items():
                values[name] = _convert(self.processors.get(name), value)
        if self.positional:
            return self.sql, [values[name] for name in self.order]
        return self.sql, values

    def _expand(self, given: Mapping[str, Any] | None) -> tuple[str, Any]:
        missing = self.required - set(given or ())
        if missing:
            raise ValueError(f"no value given for {', '.join(sorted(missing))}")
        state = self.statement.construct_expanded_state(given)
        values = {
            name: _convert(self.processors.get(name) or state.processors.get(name), value)
            for name, value in state.parameters.items()
        }
        if self.positional:
            return state.statement, [values[name] for name in state.positiontup or ()]
        return state.statement, values


def _convert(process: Processor, value: Any) -> Any:
    return value if process is None else process(value)


def _result_processor(column: Any, dialect: Dialect) -> Processor:
    try:
        return column.type.dialect_impl(dialect).result_processor(dialect, None)  # type: ignore[no-any-return]
    except (TypeError, exc.InvalidRequestError):
        # psycopg's numeric types convert by the column's type code, which only a result has:
        # the driver's own value (float for double precision) is what they would give
        return None


class Prepared:
    """A Core statement compiled once per dialect."""

    def __init__(self, statement: Executable) -> None:
        self.statement: Any = statement
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            statement = self.statement.compile(dialect=dialect)
            assert isinstance(statement, SQLCompiler)
            required = {b.key for b in statement.binds.values() if b.required}
            columns = getattr(self.statement, "selected_columns", ())
            found = self._compiled[dialect.name] = Compiled(statement, dialect, columns, required)
        return found


class PointQuery(Prepared):
    """A SELECT whose rows are read as named tuples (``store.point``)."""

    def __init__(self, statement: Executable) -> None:
        super().__init__(statement)
        self.row_type: Any = namedtuple("Row", self.statement.selected_columns.keys())  # type: ignore[misc]

    def rows(self, raw: Sequence[Sequence[Any]], processors: list[Processor]) -> list[Any]:
        make = self.row_type._make
        return [
            make(value if p is None else p(value) for p, value in zip(processors, row, strict=True))
            for row in raw
        ]


def _driver(session: Session) -> tuple[Any, Dialect]:
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    return dbapi, session.get_bind().dialect


def fetch(session: Session, query: Prepared, params: Mapping[str, Any] | None = None) -> list[Any]:
    """The rows ``query`` selects, as tuples, run on ``session``'s connection in its transaction."""
    dbapi, dialect = _driver(session)
    compiled = query.compiled(dialect)
    cursor = dbapi.cursor()
    try:
        cursor.execute(*compiled.bind(params))
        raw: list[Any] = cursor.fetchall()
    finally:
        cursor.close()
    convert = [(i, p) for i, p in enumerate(compiled.results) if p is not None]
    if not convert:
        return raw
    rows = []
    for row in raw:
        values = list(row)
        for i, process in convert:
            values[i] = process(values[i])
        rows.append(values)
    return rows


def execute(session: Session, statement: Prepared, params: Mapping[str, Any] | None = None) -> int:
    """Run ``statement`` (an INSERT, UPDATE or DELETE) on ``session``'s connection in its
    transaction; the number of rows it touched."""
    dbapi, dialect = _driver(session)
    compiled = statement.compiled(dialect)
    cursor = dbapi.cursor()
    try:
        cursor.execute(*compiled.bind(params))
        return int(cursor.rowcount)
    finally:
        cursor.close()


def execute_many(session: Session, statement: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run ``statement`` (an INSERT, UPDATE or DELETE) once per parameter set, in one driver call,
    on ``session``'s connection in its transaction."""
    if not rows:
        return
    dbapi, dialect = _driver(session)
    compiled = statement.compiled(dialect)
    if compiled.varying:
        raise ValueError("execute_many takes no IN parameters: each list length is its own SQL")
    cursor = dbapi.cursor()
    try:
        bound = [compiled.bind(row) for row in rows]
        cursor.executemany(bound[0][0], [values for _, values in bound])
    finally:
        cursor.close()
