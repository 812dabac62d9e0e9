from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFilesField(forms.Field):
    """Hands the uploaded files to intake unvalidated: intake gives the reasons (an empty
    file, a text file named .jpg, ...) in the same words on every route."""

    widget = MultipleFileInput(
        attrs={"accept": "image/jpeg,image/png,image/webp,image/gif,image/bmp,image/tiff"}
    )

    def clean(self, value):
        files = [f for f in (value or []) if f is not None]
        if not files:
            raise ValidationError("Choose at least one image file.", code="required")
        return files


class UploadForm(forms.Form):
    files = MultipleFilesField(label="Images")  # type: ignore[assignment]  # a field, not .files
