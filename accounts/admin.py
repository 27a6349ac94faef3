"""Admin pages for users and token revocations. Raw token text is never shown.

SimpleJWT's own OutstandingToken and BlacklistedToken admins list the
``token`` column, so they are replaced by one outstanding-token page that
shows only ids, owner, dates and whether the token is blacklisted.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.apps import BLACKLIST_APP
from accounts.models import RevokedToken, User
from accounts.revocation import blacklist_refresh_token, revoke_all_tokens

logger = logging.getLogger(__name__)

for model in (OutstandingToken, BlacklistedToken):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return (("live", "Not expired yet"), ("expired", "Expired"))

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "live":
            return queryset.filter(expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin page that lists and shows rows but never adds, edits or deletes them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(RevokedToken)
class RevokedTokenAdmin(ReadOnlyAdmin):
    list_display = (
        "revocation_id",
        "user",
        "token_type",
        "reason",
        "issued_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("token_type", "reason", ExpiryFilter)
    search_fields = ("revocation_id", "user__username", "user__email")
    list_select_related = ("user",)
    date_hierarchy = "revoked_at"


class OutstandingTokenAdmin(ReadOnlyAdmin):
    """Issued refresh tokens. The ``token`` column is excluded everywhere on this page."""

    fields = ("jti", "user", "family", "created_at", "expires_at", "blacklisted_at")
    readonly_fields = fields
    list_display = ("jti", "user", "family", "created_at", "expires_at", "blacklisted_at")
    list_filter = (ExpiryFilter,)
    search_fields = ("jti", "user__username", "user__email", "family_member__family_id")
    list_select_related = ("user", "blacklistedtoken", "family_member")
    actions = ["revoke_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("token")

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("token_blacklist.add_blacklistedtoken")

    @admin.display(description="family")
    def family(self, obj: OutstandingToken) -> str:
        member = getattr(obj, "family_member", None)
        return member.family_id if member is not None else "-"

    @admin.display(description="blacklisted at")
    def blacklisted_at(self, obj: OutstandingToken):
        blacklisted = getattr(obj, "blacklistedtoken", None)
        return blacklisted.blacklisted_at if blacklisted is not None else None

    @admin.action(description="Revoke selected refresh tokens", permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(blacklist_refresh_token(token, "admin") for token in queryset)
        logger.info("Admin user %s revoked %d refresh tokens", request.user.pk, count)
        self.message_user(request, f"Revoked {count} refresh tokens.", messages.SUCCESS)


# The admin imports this module before AccountsConfig.ready() checks the
# settings. Without the blacklist app OutstandingToken is abstract, and
# registering it would hide the clearer error that ready() raises.
if BLACKLIST_APP in settings.INSTALLED_APPS:
    admin.site.register(OutstandingToken, OutstandingTokenAdmin)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (
            "Tokens and quota",
            {"fields": ("auth0_sub", "tokens_valid_after", "monthly_audio_quota_seconds")},
        ),
    )
    readonly_fields = ("tokens_valid_after",)
    list_display = ("username", "email", "is_active", "is_staff", "tokens_valid_after")
    search_fields = (*DjangoUserAdmin.search_fields, "auth0_sub")
    actions = ["log_out_everywhere"]

    @admin.action(description="Log selected users out everywhere", permissions=["change"])
    def log_out_everywhere(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset:
            revoke_all_tokens(user, "admin")
        count = len(queryset)
        logger.info("Admin user %s logged out %d users everywhere", request.user.pk, count)
        self.message_user(request, f"Logged out {count} users everywhere.", messages.SUCCESS)
