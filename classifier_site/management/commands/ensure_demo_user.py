from django.core.management.base import BaseCommand

from classifier_site.accounts.services import demo_user_ensure


class Command(BaseCommand):
    help = "Create the demo account (demo / demo-password) if it does not exist yet."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-password")

    def handle(self, *args, username: str, password: str, **options):
        created = demo_user_ensure(username=username, password=password)
        verb = "Created" if created else "Existing"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} demo account: username={username} password={password}")
            if created
            else f"{verb} demo account: username={username} (password unchanged)"
        )
