from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Deferred: models and selectors need the app registry this hook runs after.
        from images.after_upload import after_upload_register
        from images.relations import relations_register
        from jobs.metrics import register_collector
        from jobs.selectors import JobImageRelations
        from jobs.services import images_auto_classify

        register_collector()
        relations_register(JobImageRelations())
        after_upload_register(images_auto_classify)
