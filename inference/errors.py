"""Domain errors of the inference app (no torch here)."""

from __future__ import annotations


class ModelUnavailable(Exception):
    """No usable model of the requested kind; the message says what to do."""


class WeightsMissing(ModelUnavailable):
    """The weights file is absent and cannot be downloaded; the message names the file
    and the folder to put it in."""


class WeightsCorrupt(WeightsMissing):
    """The weights file differs from its published (or registered) hash: refused, because
    results would be labelled with a model that did not produce them."""
