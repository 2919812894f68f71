"""The record a command receives: one typed field per option it declares (`gradcli.cli.options`).

`Record` is a plain class whose fields are its annotations, with their defaults; it is built
from keywords only (``EvalRequest(**params)``), refusing a name it does not declare.  Not a
dataclass nor a NamedTuple: the fast path builds an `gradcli.cli.evaluation.EvalRequest` on
every plain ``gradcli eval``, and both of those cost milliseconds at import (dataclasses
imports inspect; NamedTuple compiles each annotation).
"""

from __future__ import annotations

from typing import Any


class Record:
    """Fields are the subclass's annotations; those without a default must be given."""

    def __init__(self, **values: Any) -> None:
        names = self.fields()
        for name, value in values.items():
            if name not in names:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            setattr(self, name, value)
        missing = [name for name in names if not hasattr(self, name)]
        if missing:
            raise TypeError(f"{type(self).__name__} needs {', '.join(missing)}")

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return tuple(cls.__dict__.get("__annotations__", {}))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.fields())
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in self.fields())

    __hash__ = None  # type: ignore[assignment]
