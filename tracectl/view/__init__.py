"""`tracectl view`: one trace as X-Ray and Jaeger show it, side by side, in a browser."""
