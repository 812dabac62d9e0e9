from django import forms
from django.contrib.auth.forms import UserCreationForm

from classifier_site.accounts.models import User
from classifier_site.accounts.services import invite_check


class SignupForm(UserCreationForm):
    # Only asked for when SIGNUP=invite; the link an administrator sends fills it in.
    invite = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = User
        fields = ("username", "email")

    def __init__(self, *args, invite_required: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.invite_required = invite_required
        if invite_required:
            self.fields["invite"].widget = forms.TextInput()
            self.fields["invite"].label = "Invitation code"
            self.fields["invite"].required = True
        else:
            del self.fields["invite"]

    def clean(self):
        cleaned = super().clean()
        if (
            self.invite_required
            and not self.errors
            and not invite_check(
                token=cleaned.get("invite", ""), username=cleaned.get("username", "")
            )
        ):
            raise forms.ValidationError(
                "This invitation is not valid for this username (or it has expired). "
                "Ask an administrator for a new one."
            )
        return cleaned
