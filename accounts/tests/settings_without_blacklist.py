"""Project settings minus SimpleJWT's blacklist app, for the startup refusal test."""

from config.settings import *  # noqa: F401,F403
from config.settings import INSTALLED_APPS

BLACKLIST_APP = "rest_framework_simplejwt.token_blacklist"
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != BLACKLIST_APP]
