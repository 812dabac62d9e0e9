# Pages under /inference/ and API routes under /api/v1/ (the root urlconf includes both lists).
urlpatterns: list = []
api_urlpatterns: list = []
