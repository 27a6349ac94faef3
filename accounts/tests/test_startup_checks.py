import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts.apps import check_blacklist_configuration
from testing.servers import PROJECT_ROOT

BLACKLIST_APP = "rest_framework_simplejwt.token_blacklist"


def test_rotation_without_blacklist_refused(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != BLACKLIST_APP]

    with pytest.raises(ImproperlyConfigured, match="INSTALLED_APPS"):
        check_blacklist_configuration()


def test_rotation_without_blacklisting_refused(settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "BLACKLIST_AFTER_ROTATION": False}

    with pytest.raises(ImproperlyConfigured, match="BLACKLIST_AFTER_ROTATION"):
        check_blacklist_configuration()


def test_no_rotation_without_blacklist_allowed(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != BLACKLIST_APP]
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ROTATE_REFRESH_TOKENS": False}

    check_blacklist_configuration()


def test_service_refuses_to_start_without_blacklist():
    env = {
        **os.environ,
        "ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "accounts.tests.settings_without_blacklist",
    }

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert BLACKLIST_APP in result.stderr
