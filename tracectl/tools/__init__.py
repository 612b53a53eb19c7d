"""The tool builds: the local run's real parts (the Lambda emulator, the collector, Jaeger) built from
their pinned Go modules (`builds.py`, pins in `gomod/`). Imports nothing else of tracectl."""

from tracectl.tools.builds import (
    BIN,
    COLLECTOR,
    GOMOD,
    JAEGER,
    JAEGER_MODULE_VERSION,
    JAEGER_RELEASE,
    MANIFEST,
    RIE,
    TOOLS,
    ToolsError,
    binary,
    build,
    cache_root,
    installed,
    main,
    shown,
)

__all__ = [
    "BIN",
    "COLLECTOR",
    "GOMOD",
    "JAEGER",
    "JAEGER_MODULE_VERSION",
    "JAEGER_RELEASE",
    "MANIFEST",
    "RIE",
    "TOOLS",
    "ToolsError",
    "binary",
    "build",
    "cache_root",
    "installed",
    "main",
    "shown",
]
