from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from classifier_site.inprocess import start_inprocess_worker


class Command(BaseCommand):
    help = (
        "Run the whole app in one process: web server plus, in the embedded default, "
        "an in-process queue worker and job sweeper."
    )

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--worker-threads", type=int, default=1)

    def handle(self, *args, addrport: str, worker_threads: int, **options):
        if settings.INPROCESS_WORKER:
            start_inprocess_worker(threads=worker_threads)
        else:
            self.stdout.write("BROKER_URL is set: run workers with `manage.py rundramatiq`.")
        call_command("runserver", addrport, use_reloader=False)
