"""Lambda and AWS emulated on this machine: each function run as Lambda runs it (AWS's emulator, the
real runtime client, its CPU share and freezes), moto behind the relay that hands trace headers on
as AWS does, the events Lambda delivers, and the whole app's local run.

May import `tracectl.traces` (to receive and record spans) and the loose modules; never
`tracectl.pipeline`, `tracectl.aws` or `tracectl.commands`."""
