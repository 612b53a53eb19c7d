"""The deployed side, in AWS: traffic at a deployed API, and the Jaeger stack's endpoints and signed
UI proxy. May import `tracectl.traces`; never the emulation or the local pipeline."""
