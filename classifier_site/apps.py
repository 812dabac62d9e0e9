from django.apps import AppConfig


class ClassifierSiteConfig(AppConfig):
    """The project package as an app, for its operational management commands."""

    name = "classifier_site"
    verbose_name = "Classifier site"
