"""The registry of systems (one per paper of the collection).

A system registers a :class:`SystemSpec` from its package ``__init__.py``. Entry points are
``"module:attribute"`` strings, so listing systems and building the CLI never import torch.

Statuses are honest (developers' guide, definition of done):

* ``working``: data, method, metrics, learning test, demo and bad-input handling all hold;
* ``partial``: some of those hold (``notes`` says what is missing);
* ``planned``: nothing runnable yet.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import UnknownSystemError

__all__ = [
    "FAMILIES",
    "SYSTEM_FAMILIES",
    "Status",
    "SystemSpec",
    "get",
    "load_entry",
    "register",
    "systems",
]

Status = Literal["planned", "partial", "working"]

#: The 26 system ids of the collection and the family folder each one lives in.
SYSTEM_FAMILIES: dict[str, str] = {
    "torchspatial": "location",
    "geoplant": "location",
    "g3": "location",
    "gomaageo": "location",
    "anychange": "change",
    "fusu": "change",
    "sgnet": "segmentation",
    "seco": "segmentation",
    "kurosiwo": "segmentation",
    "oamtcd": "segmentation",
    "synrs3d": "segmentation",
    "opensatmap": "segmentation",
    "ssdiff": "restoration",
    "feinfn": "restoration",
    "allclear": "restoration",
    "cosmic": "restoration",
    "stvd": "restoration",
    "garner": "graphs",
    "districtnet": "graphs",
    "vrsbench": "vision_language",
    "mmmrs": "vision_language",
    "solarcube": "forecasting",
    "terra": "forecasting",
    "idee": "forecasting",
    "deblora": "learning",
    "pecl": "learning",
}

FAMILIES: tuple[str, ...] = tuple(sorted(set(SYSTEM_FAMILIES.values())))


@dataclass(frozen=True)
class SystemSpec:
    """What the project knows about one system.

    Attributes:
        id: the system id (one of :data:`SYSTEM_FAMILIES`), also the catalog paper id.
        family: the family folder (``location``, ``change``, ...).
        status: ``planned``, ``partial`` or ``working``.
        summary: one line, written by us.
        demo: ``"module:function"`` of the demo, a callable ``demo(out_dir, quick, seed)``
            returning a :class:`geoneurips.demo.DemoResult`.
        dataset: ``"module:Class"`` of the dataset class for the published layout.
        model: ``"module:Class"`` of the main model.
        commands: task commands, CLI name -> ``"module:function"`` (a typer-style function
            whose module imports no heavy library at top level).
        notes: what is missing when the status is not ``working``.
        quick_decides: whether the quick demo is long enough for the method to be judged.
            ``False`` where it was measured too short (the full demo decides): ``geoneurips
            reproduce --quick`` then runs this system's full demo.
    """

    id: str
    family: str
    status: Status = "planned"
    summary: str = ""
    demo: str | None = None
    dataset: str | None = None
    model: str | None = None
    commands: dict[str, str] = field(default_factory=dict)
    notes: str = ""
    quick_decides: bool = True


_REGISTRY: dict[str, SystemSpec] = {}
_DISCOVERED = False


def register(spec: SystemSpec) -> SystemSpec:
    """Register ``spec`` (a later registration of the same id replaces the earlier one)."""
    if spec.id not in SYSTEM_FAMILIES:
        raise UnknownSystemError(f"{spec.id!r} is not a system of the collection")
    if SYSTEM_FAMILIES[spec.id] != spec.family:
        raise ValueError(
            f"system {spec.id!r} belongs to family {SYSTEM_FAMILIES[spec.id]!r}, "
            f"not {spec.family!r}"
        )
    _REGISTRY[spec.id] = spec
    return spec


def _discover() -> None:
    """Import every system package that exists; register the others as ``planned``."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for sid, family in SYSTEM_FAMILIES.items():
        module = f"geoneurips.{family}.{sid}"
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            importlib.import_module(module)
        if sid not in _REGISTRY:
            _REGISTRY[sid] = SystemSpec(id=sid, family=family, status="planned")


def systems() -> list[SystemSpec]:
    """All 26 systems, in the order of :data:`SYSTEM_FAMILIES`."""
    _discover()
    return [_REGISTRY[sid] for sid in SYSTEM_FAMILIES]


def get(system_id: str) -> SystemSpec:
    """The spec of ``system_id``.

    Raises:
        UnknownSystemError: if the id is not one of the 26 systems.
    """
    _discover()
    try:
        return _REGISTRY[system_id]
    except KeyError:
        known = ", ".join(sorted(SYSTEM_FAMILIES))
        raise UnknownSystemError(f"unknown system {system_id!r}; known: {known}") from None


def load_entry(ref: str) -> Callable[..., Any]:
    """Import and return the object named by ``"package.module:attribute"``."""
    module_name, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"entry point {ref!r} is not of the form 'module:attribute'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]
