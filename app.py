#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth|deploy -c exporter=xray|jaeger|both [-c jaegerEndpoint=...]`."""

from __future__ import annotations

import os
import sys

# jsii (the CDK's bridge to Node) prints a boxed end-of-life warning on Node 20, relayed line by line;
# the README says which Node to use. Set before aws_cdk starts jsii's Node process.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

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
