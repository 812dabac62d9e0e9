from django.apps import AppConfig


class ClassifierSiteConfig(AppConfig):
    """The project package as an app, for its operational management commands."""

    name = "classifier_site"
    verbose_name = "Classifier site"

    def ready(self) -> None:
        from django.http import multipartparser

        # Django refuses a multipart part whose headers pass 1 KB, and with it the whole
        # batch: a 1000-character file name (3× that percent-encoded as UTF-8) did. The
        # name is shortened at intake (images.intake.sanitize_filename); 16 KB still
        # bounds what one part's headers may cost.
        current = getattr(multipartparser, "MAX_TOTAL_HEADER_SIZE", 1024)
        multipartparser.MAX_TOTAL_HEADER_SIZE = max(current, 16 * 1024)  # type: ignore[attr-defined]
