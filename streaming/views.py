"""REST access to a caller's streams, recordings and usage."""

from __future__ import annotations

import logging

from django.http import FileResponse
from rest_framework import generics, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from streaming import conf, sessions
from streaming.models import StreamSession
from streaming.recording import get_recording_storage
from streaming.recording.base import RecordingNotFoundError
from streaming.serializers import StreamDetailSerializer, StreamSummarySerializer

logger = logging.getLogger(__name__)


class StreamActive(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "stream_active"
    default_detail = "the stream is still open; end it with CloseStream before deleting it"


class OwnStreamsMixin:
    """Limit every lookup to the caller's streams, so another user's stream is a 404."""

    def get_queryset(self):
        return StreamSession.objects.filter(user=self.request.user)


class StreamList(OwnStreamsMixin, generics.ListAPIView):
    serializer_class = StreamSummarySerializer


class StreamDetail(OwnStreamsMixin, generics.RetrieveDestroyAPIView):
    serializer_class = StreamDetailSerializer

    def get_queryset(self):
        return super().get_queryset().prefetch_related("segments")

    def perform_destroy(self, instance: StreamSession) -> None:
        if instance.status == StreamSession.Status.ACTIVE and instance.owner_channel:
            raise StreamActive()
        stream_id = str(instance.id)
        # The post_delete signal removes the recording.
        instance.delete()
        logger.info("Stream %s deleted by user %s", stream_id, self.request.user.pk)


class StreamRecording(OwnStreamsMixin, generics.GenericAPIView):
    def get(self, request, pk):
        stream = self.get_object()
        try:
            file = get_recording_storage().open_read(str(stream.id))
        except RecordingNotFoundError:
            raise NotFound("this stream has no recording") from None
        return FileResponse(
            file, content_type="audio/wav", as_attachment=True, filename=f"{stream.id}.wav"
        )


class UsageView(APIView):
    def get(self, request):
        used = sessions.monthly_usage_seconds(request.user)
        quota = sessions.quota_seconds(request.user, conf.stream_limits().monthly_quota_seconds)
        return Response(
            {
                "month": sessions.month_start().isoformat(),
                "audio_seconds": round(used, 3),
                "quota_seconds": quota,
                "remaining_seconds": None if quota is None else max(0.0, round(quota - used, 3)),
            }
        )
