from rest_framework import serializers

from streaming.models import StreamSession, TranscriptSegment


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = TranscriptSegment
        fields = ["index", "text", "confidence", "start", "end", "provisional"]


class StreamSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = StreamSession
        fields = [
            "id", "status", "language", "encoding", "sample_rate", "channels", "engine",
            "started_at", "ended_at", "bytes", "audio_seconds", "close_code", "close_reason",
        ]


class StreamDetailSerializer(StreamSummarySerializer):
    segments = SegmentSerializer(many=True, read_only=True)

    class Meta(StreamSummarySerializer.Meta):
        fields = StreamSummarySerializer.Meta.fields + ["transcript", "segments"]
