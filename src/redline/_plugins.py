"""Registries by decorator (name -> class), as Inspect registers tasks and garak its probes."""

from collections.abc import Callable
from typing import Generic, TypeVar

from redline.errors import RedlineError

T = TypeVar("T")


class Registry(Generic[T]):
    """Classes registered by name with `@registry.register("name")`, which sets `cls.name`."""

    def __init__(self, kind: str, hint: str | None = None) -> None:
        self.kind = kind
        self.hint = hint
        """What an unknown name's error suggests (default: the registered names)."""
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """A class decorator registering the class as `name`."""

        def add(cls: type[T]) -> type[T]:
            if name in self._classes:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            cls.name = name  # type: ignore[attr-defined]
            self._classes[name] = cls
            return cls

        return add

    def names(self) -> list[str]:
        """Every registered name, in the order registered."""
        return list(self._classes)

    def classes(self) -> dict[str, type[T]]:
        """Every registered class, by name."""
        return dict(self._classes)

    def get(self, name: str) -> type[T]:
        """The class registered as `name`; a RedlineError naming what exists if none is."""
        try:
            return self._classes[name]
        except KeyError:
            hint = self.hint or f"choose {', '.join(self._classes)}"
            raise RedlineError(f"unknown {self.kind} {name!r}: {hint}") from None
