"""Keep an open WebSocket's token valid: expiry, re-authorization and revocation.

``TokenWatchMixin`` goes before ``AsyncWebsocketConsumer`` in a consumer's
bases. The consumer calls ``start_token_watch`` once the stream is open,
``handle_authorize`` for each ``{"type": "Authorize", "token": ...}`` text
message, and ``stop_token_watch`` when the stream ends. The mixin calls back
two methods the consumer must provide:

- ``async def send_error(self, code: str, message: str)`` sends an Error frame.
- ``async def close_for_auth(self, code: int)`` ends the stream (flushing what
  it must) and closes with ``code``.

Revocations arrive as ``auth.revoked`` messages in the channel layer group
``accounts.revocation.user_group_name(user.pk)``. With Redis as the channel
layer they reach sockets on every daphne process.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

from config.database import database_async
from django.conf import settings

from accounts.auth0.errors import (
    AuthError,
    AuthUnavailableError,
    ForbiddenError,
    TokenExpiredError,
    TokenMissingError,
    TokenRevokedError,
)
from accounts.auth0.users import load_user
from accounts.auth0.verification import get_verifier
from accounts.identity import VerifiedToken
from accounts.revocation import is_revoked, user_group_name

logger = logging.getLogger(__name__)


def is_token_revoked_by(event: dict, token: VerifiedToken) -> bool:
    """Tell whether an ``auth.revoked`` event applies to this token.

    It does when the event names the token's revocation id, when the user is
    disabled, or when the token was issued before ``issued_before``. A token
    without ``iat`` counts as issued before, as in ``accounts.revocation.is_revoked``.
    """
    if event.get("user_disabled"):
        return True
    if event.get("revocation_id") is not None and event["revocation_id"] == token.revocation_id:
        return True
    issued_before = event.get("issued_before")
    if issued_before is None:
        return False
    return token.issued_at is None or token.issued_at.timestamp() < issued_before


class TokenWatchMixin:
    """Close the socket when its token expires or is revoked; accept fresh tokens."""

    _token_group: str | None = None
    _expiry_task: asyncio.Task | None = None
    _authorize_task: asyncio.Task | None = None
    _closing_for_auth = False

    async def start_token_watch(self) -> None:
        """Join the user's revocation group and schedule the close at the token's expiry."""
        token: VerifiedToken = self.scope["token"]
        user = self.scope["user"]
        self._token_group = user_group_name(user.pk)
        await self.channel_layer.group_add(self._token_group, self.channel_name)
        self._schedule_expiry(token)

        # A revocation committed between the handshake check and group_add was
        # broadcast to a group this socket had not joined yet, so check once more.
        revoked = await database_async(self._is_revoked_now)(user, token)
        if revoked:
            self._spawn(self._end_for_auth(TokenRevokedError()))

    async def stop_token_watch(self) -> None:
        """Cancel the timers and leave the revocation group; safe to call more than once."""
        current = asyncio.current_task()
        for task in (self._expiry_task, self._authorize_task):
            # The expiry task itself runs close_for_auth, which ends here: it must not cancel itself.
            if task is not None and task is not current:
                task.cancel()
        self._expiry_task = None
        self._authorize_task = None
        if self._token_group is not None:
            group, self._token_group = self._token_group, None
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # noqa: BLE001  (the group entry expires on its own)
                logger.warning("Could not leave group %s", group, exc_info=True)

    async def handle_authorize(self, message: dict) -> None:
        """Start verifying the token of an Authorize message and return at once.

        Verification runs in a task, so audio frames keep flowing while a JWKS
        fetch is pending. A newer Authorize replaces one still being verified.
        """
        if self._closing_for_auth:
            return
        if self._authorize_task is not None:
            self._authorize_task.cancel()
        self._authorize_task = self._spawn(self._authorize(message.get("token")))

    async def auth_revoked(self, event: dict) -> None:
        """Channel layer handler for ``auth.revoked``: close the socket if its token is affected."""
        token: VerifiedToken | None = self.scope.get("token")
        if token is None or not is_token_revoked_by(event, token):
            return
        user = self.scope.get("user")
        logger.info(
            "Closing WebSocket of user pk=%s: token %s revoked", getattr(user, "pk", None),
            token.revocation_id,
        )
        message = (
            "This account was deactivated; contact an administrator."
            if event.get("user_disabled")
            else "The access token was revoked (signed out); sign in again and reconnect."
        )
        await self._end_for_auth(TokenRevokedError(message))

    async def _authorize(self, new_token: object) -> None:
        current: VerifiedToken = self.scope["token"]
        try:
            if not isinstance(new_token, str) or not new_token:
                raise TokenMissingError(
                    'Authorize needs the new access token: {"type": "Authorize", "token": "<token>"}.'
                )
            verified = await get_verifier().averify(new_token)
            if verified.subject != current.subject:
                raise ForbiddenError(
                    "The new token belongs to another user; open a new stream for that user."
                )
            user = await database_async(load_user)(verified)
        except AuthUnavailableError as exc:
            # The current token stays valid, so the stream stays open and the client can retry.
            await self.send_error(exc.code, exc.message)
            return
        except AuthError as exc:
            logger.info(
                "Authorize rejected for sub=%r (%s); closing with %s",
                current.subject, exc.code, exc.close_code,
            )
            await self._end_for_auth(exc)
            return

        self.scope["token"] = verified
        self.scope["user"] = user
        self._schedule_expiry(verified)
        logger.info(
            "Stream of user pk=%s re-authorized until %s", user.pk, verified.expires_at.isoformat()
        )
        await self._send_authorized(verified)

    async def _send_authorized(self, token: VerifiedToken) -> None:
        payload = {"type": "Authorized", "expires_at": token.expires_at.isoformat()}
        try:
            await self.send(text_data=json.dumps(payload))
        except Exception:  # noqa: BLE001  (daphne raises once the client has closed)
            logger.debug("Authorized not sent: the client has closed")

    def _schedule_expiry(self, token: VerifiedToken) -> None:
        if self._expiry_task is not None and self._expiry_task is not asyncio.current_task():
            self._expiry_task.cancel()
        deadline = token.expires_at + timedelta(seconds=settings.AUTH0_LEEWAY_SECONDS)
        self._expiry_task = self._spawn(self._expire_at(deadline))

    async def _expire_at(self, deadline: datetime) -> None:
        delay = (deadline - datetime.now(UTC)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        token: VerifiedToken = self.scope["token"]
        logger.info(
            "Closing WebSocket of sub=%r: token %s expired", token.subject, token.revocation_id
        )
        await self._end_for_auth(
            TokenExpiredError(
                "The access token expired; send a fresh one with an Authorize message "
                "before it expires, or reconnect with a new token."
            )
        )

    async def _end_for_auth(self, error: AuthError) -> None:
        if self._closing_for_auth:
            return
        self._closing_for_auth = True
        await self.send_error(error.code, error.message)
        await self.close_for_auth(error.close_code)

    @staticmethod
    def _is_revoked_now(user, token: VerifiedToken) -> bool:
        current = type(user).objects.filter(pk=user.pk).first()
        return is_revoked(user=current, revocation_id=token.revocation_id, issued_at=token.issued_at)

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        task.add_done_callback(_log_task_failure)
        return task


def _log_task_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Token watch task failed", exc_info=task.exception())
