"""The build backend of the ``benchmem`` distribution: maturin's, with one default changed.

Built through pip (PEP 517), maturin tags a wheel plain ``linux`` unless told otherwise
(``--compatibility off``), even when ``[tool.maturin] compatibility`` says more. A
``linux``-tagged wheel installs on this machine only, so ``pip wheel ./python`` would
not give a wheel to hand out. Here the ``compatibility`` of ``[tool.maturin]`` is passed
on, so maturin audits the binary against that manylinux policy (glibc symbol versions,
linked libraries) and tags the wheel with it. Arguments given through
``MATURIN_PEP517_ARGS`` or ``--config-settings maturin.build-args=...`` still win.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import maturin
from maturin import (  # noqa: F401  (the other hooks, re-exported as they are)
    build_editable,
    build_sdist,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_wheel,
)


def _with_compatibility(config_settings: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    args: List[str] = list(maturin.get_maturin_pep517_args(config_settings))
    policy = maturin.get_config().get("compatibility")
    if policy and not any(a in ("--compatibility", "--manylinux") or a.startswith("--compatibility=") for a in args):
        args = ["--compatibility", str(policy), *args]
    settings = dict(config_settings or {})
    settings.pop("build-args", None)
    settings["maturin.build-args"] = args
    return settings


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Mapping[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    """maturin's ``build_wheel``, tagged with ``[tool.maturin] compatibility``."""
    name: str = maturin.build_wheel(wheel_directory, _with_compatibility(config_settings), metadata_directory)
    return name
