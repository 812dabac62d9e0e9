"""Serializer fields that take JSON types as the schema states them.

DRF's CharField turns 42 into "42" and IntegerField "42" into 42; a JSON client that
sends the wrong type then gets a silent conversion where the schema promises a 400.
These refuse the wrong JSON type; form-encoded bodies (all strings) are parsed as usual.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import serializers


def _from_json(field: serializers.Field) -> bool:
    root = field.root
    return not isinstance(getattr(root, "initial_data", None), QueryDict)


class StrictCharField(serializers.CharField):
    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) and _from_json(self):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"not_a_number": "Must be a whole number (a JSON number)."}

    def to_internal_value(self, data: Any) -> int:
        if _from_json(self) and (isinstance(data, bool) or not isinstance(data, int)):
            self.fail("not_a_number")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"not_a_number": "Must be a number (a JSON number)."}

    def to_internal_value(self, data: Any) -> float:
        if _from_json(self) and (isinstance(data, bool) or not isinstance(data, (int, float))):
            self.fail("not_a_number")
        return super().to_internal_value(data)
