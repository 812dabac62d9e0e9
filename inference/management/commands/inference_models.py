"""List models and their weights; pre-fetch weights; create/refresh ModelVersion rows."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from inference import registry
from inference.errors import ModelUnavailable
from inference.selectors import model_versions_list, model_weights_status
from inference.services import model_availability_report, model_versions_refresh


class Command(BaseCommand):
    help = (
        "List the models, whether their weights are present, and the model versions. "
        "--fetch downloads missing weights (needs the worker extra and network); "
        "--refresh creates/refreshes the ModelVersion rows from settings."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--fetch",
            nargs="*",
            metavar="ARCH",
            help="download missing weights (all models, or these architectures: "
            "mobilenet_v2, efficientnet_lite0, open_clip)",
        )
        parser.add_argument("--refresh", action="store_true", help="create/refresh versions")
        parser.add_argument(
            "--report",
            action="store_true",
            help="load every model here (worker extra) and record which ones this machine "
            "can run, as a worker does at start",
        )

    def handle(
        self, *args, fetch: list[str] | None, refresh: bool, report: bool, **options
    ) -> None:
        if fetch is not None:
            self._fetch(fetch)
        if report:
            for row in model_availability_report():
                state = f"ready ({row.engine} {row.precision})" if row.ready else row.reason
                self.stdout.write(f"{row.model_version.name:<40} {state}")
        if refresh or fetch is not None:
            model_versions_refresh()
        for status in model_weights_status():
            where = (
                f"present: {status.path}"
                if status.path
                else f"MISSING: put {status.expected_file.name} at {status.expected_file}"
            )
            self.stdout.write(f"{status.name:<40} {status.kind:<10} {where}")
        versions = list(model_versions_list())
        if versions:
            self.stdout.write("\nModel versions:")
        for version in versions:
            active = "active" if version.is_active else "      "
            sha = version.weights_sha256[:12] or "(sha unknown)"
            self.stdout.write(f"  {active} {version.name:<40} {version.kind:<10} {sha}")

    def _fetch(self, architectures: list[str]) -> None:
        from inference.backends.weights import weights_fetch  # worker-only module

        specs = [
            s for s in registry.specs_all() if not architectures or s.architecture in architectures
        ]
        if not specs:
            raise CommandError(f"Unknown architecture(s): {', '.join(architectures)}")
        failed = []
        for spec in specs:
            try:
                path = weights_fetch(spec)
                self.stdout.write(f"{spec.name}: {path} (sha256 {registry.file_sha256(path)})")
            except ModelUnavailable as exc:
                failed.append(spec.name)
                self.stderr.write(str(exc))
        if failed:
            raise CommandError(f"Could not fetch weights for {', '.join(failed)}.")
