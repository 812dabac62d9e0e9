"""The shared kernel: what every app needs and no app owns.

Errors and their JSON shape, request types, env parsing, storage and broker wiring. It
sits at the bottom of the layers (see docs/architecture.md) and imports no app.
"""
