"""The real pipeline on this machine: the collector and Jaeger built from their Go modules
(`tracectl.tools`) and X-Ray on moto, run together as `LocalPipeline` (`tracectl stack`, `make e2e`).

May import `tracectl.tools`, `tracectl.emulation` (moto, the region) and `tracectl.traces`."""
