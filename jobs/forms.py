from __future__ import annotations

from django import forms

from inference.selectors import model_weights_status
from jobs.models import JobStatus, JobType
from jobs.selectors import JOB_SORTS


def models_installed() -> dict[str, bool]:
    """Model version name -> whether the workers can run it.

    Today: whether the weights file is on disk where this process looks (web and workers
    share the weights folder). The one place to re-point at the workers' reported
    availability.
    """
    return {status.name: status.path is not None for status in model_weights_status()}


KIND_OF_TYPE = {
    JobType.IMAGE_CLASSIFICATION: "imagenet",
    JobType.CUSTOM_CLASSIFICATION: "zero_shot",
}
INSTALL_COMMAND = "python manage.py inference_models --fetch {name}"


class ModelSelect(forms.Select):
    """A select whose unavailable models are shown, greyed out and not choosable."""

    def __init__(self, *args, unavailable: set[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.unavailable = unavailable or set()

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if str(value) in self.unavailable:
            option["attrs"]["disabled"] = True
            option["label"] = f"{label} — not installed"
        return option


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
    top_k = forms.IntegerField(initial=5, min_value=1, max_value=10, label="Top K predictions")
    confidence_threshold = forms.FloatField(
        initial=0.0,
        min_value=0.0,
        max_value=1.0,
        widget=forms.NumberInput(attrs={"step": "0.05"}),
        label="Confidence threshold",
        help_text="Images whose best score is below it are reported as “unknown”.",
    )

    # Service error fields -> form fields.
    FIELD_MAP = {"category_id": "category", "image_ids": None, "idempotency_key": None}

    def __init__(
        self,
        *args,
        categories=(),
        model_versions=(),
        installed: dict[str, bool] | None = None,
        staff: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        installed = installed if installed is not None else {}
        model_versions = list(model_versions)
        # A version the status doesn't know is assumed runnable (the worker decides).
        self.unavailable = [m for m in model_versions if not installed.get(m.name, True)]
        self.unavailable_ids = {str(m.pk) for m in self.unavailable}
        self.default_unavailable = {
            m.kind: m.name for m in self.unavailable if getattr(m, "is_active", False)
        }
        category: forms.ChoiceField = self.fields["category"]  # type: ignore[assignment]
        category.choices = [("", "— none —")] + [
            (c.pk, f"{c.name} ({len(c.labels)} labels)") for c in categories
        ]
        version: forms.ChoiceField = self.fields["model_version"]  # type: ignore[assignment]
        version.widget = ModelSelect(unavailable=self.unavailable_ids)
        version.choices = [("", "Default")] + [
            (m.pk, f"{m.get_kind_display()}: {m.name}") for m in model_versions
        ]
        if self.unavailable:
            names = ", ".join(m.name for m in self.unavailable)
            help_text = f"Not installed on the workers: {names}."
            if staff:
                commands = "; ".join(INSTALL_COMMAND.format(name=m.name) for m in self.unavailable)
                help_text += f" To install: {commands}"
            version.help_text = f"{version.help_text} {help_text}"

    def clean(self):
        data = super().clean()
        # Everything the form can know is checked here, so a person sees every problem at
        # once instead of one per submit (the service re-checks all of it).
        version = data.get("model_version")
        if version is not None and str(version) in self.unavailable_ids:
            self.add_error("model_version", "This model is not installed on the workers yet.")
        kind = KIND_OF_TYPE.get(data.get("job_type") or "")
        if version is None and kind in self.default_unavailable:
            self.add_error(
                "model_version",
                f"The default model for this type ({self.default_unavailable[kind]}) is not "
                "installed on the workers yet; choose an installed one.",
            )
        custom = data.get("job_type") == JobType.CUSTOM_CLASSIFICATION
        if custom and not (data.get("custom_labels") or "").strip() and not data.get("category"):
            self.add_error("custom_labels", "A custom classification needs labels or a category.")
        return data

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
