from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.authtoken.models import Token

from classifier_site.accounts.forms import SignupForm
from classifier_site.accounts.services import (
    account_settings_update,
    signup_attempt_allowed,
    token_revoke,
    token_rotate,
)
from classifier_site.core.http import client_ip


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    mode = settings.SIGNUP
    if mode == "closed":
        return render(request, "accounts/signup_closed.html", status=403)
    invite = request.POST.get("invite") or request.GET.get("invite", "")
    form = SignupForm(
        request.POST or None, initial={"invite": invite}, invite_required=mode == "invite"
    )
    if request.method == "POST" and not signup_attempt_allowed(client=client_ip(request)):
        form.add_error(None, "Too many sign-ups from this address. Try again later.")
        return render(request, "accounts/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome! Your account is ready.")
        return redirect("dashboard")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def api_token(request: HttpRequest) -> HttpResponse:
    token = Token.objects.filter(user_id=request.user.pk or 0).first()
    return render(request, "accounts/token.html", {"token": token})


@login_required
@require_POST
def api_token_create(request: HttpRequest) -> HttpResponse:
    had_token = Token.objects.filter(user_id=request.user.pk or 0).exists()
    token_rotate(user=request.user)  # type: ignore[arg-type]
    if had_token:
        messages.success(request, "A new API token was created. The previous one no longer works.")
    else:
        messages.success(request, "Your API token was created.")
    return redirect("api-token")


@login_required
@require_POST
def api_token_revoke(request: HttpRequest) -> HttpResponse:
    if token_revoke(user=request.user):  # type: ignore[arg-type]
        messages.success(request, "Your API token was revoked.")
    return redirect("api-token")


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        account_settings_update(
            user=request.user,  # type: ignore[arg-type]
            auto_classify=request.POST.get("auto_classify") == "on",
        )
        messages.success(request, "Settings saved.")
        return redirect("account-settings")
    return render(request, "accounts/settings.html", {"auto_classify": request.user.auto_classify})  # type: ignore[union-attr]
