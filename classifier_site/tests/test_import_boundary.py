"""Torch stays in the worker: no web module may import it, directly or indirectly."""

from __future__ import annotations

import os

from classifier_site.testing.processes import run_python

PROBE = r"""
import importlib, pkgutil, sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # the whole URL tree, as the web process loads it
from django.contrib import admin
admin.autodiscover()
WEB = {"urls", "views", "api", "tasks", "admin", "services", "selectors", "models", "forms",
       "serializers", "apps", "labels", "registry", "types", "predict_api", "predict_views",
       "metrics", "exports", "intake", "uploads", "files"}
loaded = []
for app in ("classifier_site", "classifier_site.accounts", "images", "categories", "jobs",
            "inference"):
    pkg = importlib.import_module(app)
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name in WEB:
            importlib.import_module(f"{app}.{info.name}")
            loaded.append(f"{app}.{info.name}")
heavy = sorted(m for m in ("torch", "torchvision", "open_clip", "timm") if m in sys.modules)
print("LOADED", len(loaded))
print("HEAVY", ",".join(heavy) or "-")
"""


def test_web_modules_do_not_import_torch():
    result = run_python(PROBE, dict(os.environ))
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert int(lines["LOADED"]) >= 12
    assert lines["HEAVY"] == "-"
