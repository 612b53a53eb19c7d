"""Reading and drawing traces, whatever the backend: the trace model, the X-Ray and Jaeger readers,
the OTLP receiver, comparing one trace in two backends, the waterfall and the service map.

Imports nothing from `tracectl.emulation`, `tracectl.pipeline`, `tracectl.aws` or `tracectl.commands`."""
