from django.urls import path

from streaming.consumer import AudioStreamConsumer

websocket_urlpatterns = [
    path("ws/audio/", AudioStreamConsumer.as_asgi()),
]
