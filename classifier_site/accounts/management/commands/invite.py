from django.conf import settings
from django.core.management.base import BaseCommand

from classifier_site.accounts.services import invite_create


class Command(BaseCommand):
    help = "Print an invitation code (and link) for one new username (SIGNUP=invite)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--base-url", default="", help="e.g. https://classifier.example.com")

    def handle(self, *args, username: str, base_url: str, **options):
        code = invite_create(username=username)
        self.stdout.write(f"Invitation for {username} (valid {settings.SIGNUP_INVITE_DAYS} days):")
        self.stdout.write(code)
        if base_url:
            self.stdout.write(f"{base_url.rstrip('/')}/accounts/signup/?invite={code}")
