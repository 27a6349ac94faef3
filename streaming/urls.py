from django.urls import path

from streaming import views

urlpatterns = [
    path("streams/", views.StreamList.as_view(), name="stream-list"),
    path("streams/<uuid:pk>/", views.StreamDetail.as_view(), name="stream-detail"),
    path("streams/<uuid:pk>/recording", views.StreamRecording.as_view(), name="stream-recording"),
    path("usage", views.UsageView.as_view(), name="usage"),
]
