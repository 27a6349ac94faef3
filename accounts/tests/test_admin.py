import pytest
from django.contrib import admin
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import RevokedToken
from accounts.tests.helpers import bearer, login, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(make_user) -> Client:
    admin_user = make_user("root", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(admin_user)
    return browser


def page(browser: Client, url: str) -> str:
    response = browser.get(url, secure=True)
    assert response.status_code == 200, url
    return response.content.decode()


@pytest.fixture
def token_history(api_client, user) -> list[str]:
    """Every token string of a login, a rotation and a logout."""
    first = login(api_client, user.username)
    second = refresh(api_client, first["refresh"]).json()
    api_client.post("/auth/logout", {"refresh": second["refresh"]}, format="json",
                    **bearer(second["access"]))
    return [first["access"], first["refresh"], second["access"], second["refresh"]]


def test_blacklist_admin_replaced():
    assert not admin.site.is_registered(BlacklistedToken)
    assert admin.site.is_registered(OutstandingToken)
    assert admin.site.is_registered(RevokedToken)


def test_admin_pages_never_show_tokens(staff_client, token_history):
    outstanding = OutstandingToken.objects.first()
    revoked = RevokedToken.objects.first()
    urls = [
        "/admin/token_blacklist/outstandingtoken/",
        f"/admin/token_blacklist/outstandingtoken/{outstanding.pk}/change/",
        "/admin/accounts/revokedtoken/",
        f"/admin/accounts/revokedtoken/{revoked.pk}/change/",
    ]
    for url in urls:
        html = page(staff_client, url)
        for token in token_history:
            assert token not in html, url
        assert outstanding.token not in html, url


def test_revoked_list_shows_reasons(staff_client, token_history):
    html = page(staff_client, "/admin/accounts/revokedtoken/")

    assert "rotated" in html
    assert "logout" in html
    assert RevokedToken.objects.first().revocation_id in html


def test_revoked_search_and_filters(staff_client, token_history):
    family_row = RevokedToken.objects.get(token_type="family")

    by_type = page(staff_client, "/admin/accounts/revokedtoken/?token_type__exact=family")
    by_user = page(staff_client, "/admin/accounts/revokedtoken/?q=ann")
    by_jti = page(staff_client, f"/admin/accounts/revokedtoken/?q={family_row.revocation_id}")
    expired = page(staff_client, "/admin/accounts/revokedtoken/?expiry=expired")

    assert family_row.revocation_id in by_type
    assert family_row.revocation_id in by_user
    assert family_row.revocation_id in by_jti
    assert family_row.revocation_id not in expired
    no_match = page(staff_client, "/admin/accounts/revokedtoken/?q=nobody")
    assert family_row.revocation_id not in no_match


def test_admin_action_revokes_tokens(staff_client, api_client, user):
    tokens = login(api_client, user.username)
    outstanding = OutstandingToken.objects.get()

    response = staff_client.post(
        "/admin/token_blacklist/outstandingtoken/",
        {"action": "revoke_selected", "_selected_action": [outstanding.pk]},
        secure=True,
    )

    assert response.status_code == 302
    assert BlacklistedToken.objects.filter(token=outstanding).exists()
    assert RevokedToken.objects.get(revocation_id=outstanding.jti).reason == "admin"
    assert refresh(api_client, tokens["refresh"]).json()["error"] == "token_revoked"


def test_admin_cannot_delete_revocations(staff_client, token_history):
    revoked = RevokedToken.objects.first()

    response = staff_client.get(f"/admin/accounts/revokedtoken/{revoked.pk}/delete/", secure=True)

    assert response.status_code == 403


def test_user_admin_logs_out_everywhere(staff_client, api_client, user):
    tokens = login(api_client, user.username)

    staff_client.post(
        "/admin/accounts/user/",
        {"action": "log_out_everywhere", "_selected_action": [user.pk]},
        secure=True,
    )

    assert api_client.get("/auth/me", **bearer(tokens["access"])).json()["error"] == "token_revoked"
