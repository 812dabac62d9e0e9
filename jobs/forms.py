from __future__ import annotations

from django import forms

from jobs.models import JobStatus, JobType
from jobs.selectors import JOB_SORTS


class JobSubmitForm(forms.Form):
    job_type = forms.ChoiceField(
        choices=JobType.choices, initial=JobType.IMAGE_CLASSIFICATION, widget=forms.RadioSelect
    )
    model_version = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Model",
        help_text="Leave on “Default” for the active model of the chosen type.",
    )
    category = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Category (custom labels)"
    )
    custom_labels = forms.CharField(
        required=False,
        label="Labels",
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "cat\ndog\nbird"}),
        help_text="One per line. Used instead of the category's labels when given.",
    )
    top_k = forms.IntegerField(initial=5, label="Top K predictions")
    confidence_threshold = forms.FloatField(
        initial=0.0,
        label="Confidence threshold",
        help_text="Images whose best score is below it are reported as “unknown”.",
    )

    # Service error fields -> form fields.
    FIELD_MAP = {"category_id": "category", "image_ids": None, "idempotency_key": None}

    def __init__(self, *args, categories=(), model_versions=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        category: forms.ChoiceField = self.fields["category"]  # type: ignore[assignment]
        category.choices = [("", "— none —")] + [
            (c.pk, f"{c.name} ({len(c.labels)} labels)") for c in categories
        ]
        version: forms.ChoiceField = self.fields["model_version"]  # type: ignore[assignment]
        version.choices = [("", "Default")] + [
            (m.pk, f"{m.get_kind_display()}: {m.name}") for m in model_versions
        ]

    def add_domain_error(self, field: str | None, message: str) -> None:
        name = self.FIELD_MAP.get(field, field) if field else None
        self.add_error(name if name in self.fields else None, message)


class JobFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *JobStatus.choices], required=False)
    job_type = forms.ChoiceField(choices=[("", "Any type"), *JobType.choices], required=False)
    created_from = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From"
    )
    created_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To"
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[(name, label) for name, (_, label) in JOB_SORTS.items()],
    )
