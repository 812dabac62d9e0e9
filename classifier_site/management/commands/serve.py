from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.core.servers import basehttp

from classifier_site.inprocess import start_inprocess_worker


class BoundedServerHandler(basehttp.ServerHandler):
    """runserver's per-request handler, minus its habit of reading a whole unread body into
    memory at the end of a request (``self.get_stdin().read()``): a 200 MiB POST to a 404
    sat in memory. A body over REQUEST_MAX_BYTES is not read at all (the app answers 413
    and the connection is closed); a smaller unread rest is drained in small chunks."""

    def __init__(self, stdin, stdout, stderr, environ, **kwargs) -> None:
        super().__init__(stdin, stdout, stderr, environ, **kwargs)
        try:
            declared = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        self.too_large = declared > settings.REQUEST_MAX_BYTES

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        if self.too_large:
            self.headers["Connection"] = "close"  # type: ignore[attr-defined]
            self.request_handler.close_connection = True  # type: ignore[attr-defined]

    def close(self) -> None:
        if not self.too_large:
            stdin = self.get_stdin()
            while stdin.read(64 * 1024):
                pass
        super(basehttp.ServerHandler, self).close()


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
        # runserver builds its per-request handler from this module attribute; this process
        # is ours alone (the embedded server), so swapping the class is contained.
        basehttp.ServerHandler = BoundedServerHandler  # type: ignore[misc]
        call_command("runserver", addrport, use_reloader=False)
