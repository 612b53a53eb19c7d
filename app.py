#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth|deploy -c exporter=xray|jaeger|both [-c jaegerEndpoint=...]`."""

from __future__ import annotations

import sys

from aws_cdk import App

from infra.app import build
from infra.config import ConfigError

app = App()
try:
    build(app)
except ConfigError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)
app.synth()
