from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.authtoken.models import Token

from classifier_site.accounts.forms import SignupForm
from classifier_site.accounts.services import token_revoke, token_rotate


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
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
