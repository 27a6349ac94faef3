from django.contrib import admin
from django.urls import include, path

from config import health

urlpatterns = [
    path("health", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
    path("auth/", include("accounts.urls")),
    path("api/", include("streaming.urls")),
]

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
