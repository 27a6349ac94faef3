from django.contrib import admin

from streaming.models import MonthlyUsage, StreamSession


@admin.register(StreamSession)
class StreamSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "encoding", "sample_rate", "audio_seconds", "started_at"]
    list_filter = ["status", "encoding", "engine"]
    search_fields = ["id", "user__username"]
    readonly_fields = [field.name for field in StreamSession._meta.fields]


@admin.register(MonthlyUsage)
class MonthlyUsageAdmin(admin.ModelAdmin):
    list_display = ["user", "month", "audio_seconds"]
    search_fields = ["user__username"]
    readonly_fields = ["user", "month", "audio_seconds"]
