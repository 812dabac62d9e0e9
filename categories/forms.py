from __future__ import annotations

from django import forms


class CategoryForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    labels = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text="One label per line, in the order you want them (1–200 labels).",
    )
