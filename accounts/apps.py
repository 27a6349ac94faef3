from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

BLACKLIST_APP = "rest_framework_simplejwt.token_blacklist"


def check_blacklist_configuration() -> None:
    """Raise ImproperlyConfigured when refresh tokens could be rotated but not revoked."""
    jwt_settings = getattr(settings, "SIMPLE_JWT", {})
    rotating = jwt_settings.get("ROTATE_REFRESH_TOKENS", False)
    if rotating and BLACKLIST_APP not in settings.INSTALLED_APPS:
        raise ImproperlyConfigured(
            f"SIMPLE_JWT['ROTATE_REFRESH_TOKENS'] is on but {BLACKLIST_APP} is not in "
            "INSTALLED_APPS, so rotated refresh tokens would stay valid: add the app "
            "and run migrate (accounts.E001)"
        )
    if rotating and not jwt_settings.get("BLACKLIST_AFTER_ROTATION", False):
        raise ImproperlyConfigured(
            "SIMPLE_JWT['ROTATE_REFRESH_TOKENS'] is on but BLACKLIST_AFTER_ROTATION is off, "
            "so rotated refresh tokens would stay valid and reuse could not be detected: "
            "set BLACKLIST_AFTER_ROTATION to True (accounts.E002)"
        )


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and tokens"

    def ready(self) -> None:
        check_blacklist_configuration()
        from accounts import signals  # noqa: F401  (connects the user signal receivers)
