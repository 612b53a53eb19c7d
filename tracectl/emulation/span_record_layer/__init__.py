"""A Python layer for local runs only (never shipped): records every span a function's SDK finishes.

tracectl puts this directory first on a function's PYTHONPATH when a run must count what the SDKs
finished against what the backends received (`tracectl demo --stack`, the end-to-end tests), as an
AWS Lambda layer hooks into a function: Python imports `sitecustomize` at start-up.
"""
