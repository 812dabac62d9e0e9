"""Torch stays in the worker: no web module may import it, directly or indirectly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

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
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert int(lines["LOADED"]) >= 12
    assert lines["HEAVY"] == "-"
