"""Run a local stand-in for the Auth0 tenant, or mint a token signed by it.

Serve the JWKS (until Ctrl-C)::

    python manage.py local_issuer --port 8765

Mint a token with the same key file (by default .local-issuer-key.pem in the
project directory, as scripts/run uses), from another shell::

    python manage.py local_issuer --mint --sub 'auth0|alice'

The service accepts these tokens when AUTH0_DOMAIN, AUTH0_ISSUER and
AUTH0_JWKS_URL point at the issuer; serving prints those variables.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.auth0.local_issuer import DEFAULT_LIFETIME_SECONDS, LocalIssuer

DEFAULT_PORT = 8765
# In the project directory rather than the shared /tmp, and the same file scripts/run uses.
DEFAULT_KEY_FILE = Path(settings.BASE_DIR) / ".local-issuer-key.pem"


class Command(BaseCommand):
    help = (
        "Serve a local Auth0 stand-in (JWKS on a loopback port) for development and tests, "
        "or mint an RS256 access token with --mint. Never starts unless run explicitly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1",
            help="Loopback address to bind: 127.0.0.1, ::1 or localhost (default 127.0.0.1).",
        )
        parser.add_argument(
            "--port", type=int, default=DEFAULT_PORT,
            help=f"Port to serve on; also part of the issuer URL in minted tokens (default {DEFAULT_PORT}).",
        )
        parser.add_argument(
            "--key-file", type=Path, default=DEFAULT_KEY_FILE,
            help="PEM file with the RSA private key, created (mode 0600) if missing. Serving "
            f"and minting must use the same file (default {DEFAULT_KEY_FILE}).",
        )
        parser.add_argument(
            "--mint", action="store_true", help="Print one access token and exit instead of serving."
        )
        parser.add_argument("--sub", help="Subject (user id) of the minted token, e.g. 'auth0|alice'.")
        parser.add_argument(
            "--audience", default=None,
            help="Audience of the minted token and of the printed AUTH0_AUDIENCE "
            "(default: the AUTH0_AUDIENCE setting).",
        )
        parser.add_argument(
            "--lifetime", type=int, default=DEFAULT_LIFETIME_SECONDS,
            help=f"Lifetime of the minted token in seconds (default {DEFAULT_LIFETIME_SECONDS}).",
        )
        parser.add_argument("--email", help="Email claim of the minted token (optional).")

    def handle(self, *args, **options) -> None:
        audience = options["audience"] or settings.AUTH0["audience"]
        try:
            issuer = LocalIssuer(
                host=options["host"],
                port=options["port"],
                key_path=options["key_file"],
                audience=audience,
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc

        if options["mint"]:
            self.mint(issuer, options)
        else:
            self.serve(issuer)

    def mint(self, issuer: LocalIssuer, options: dict) -> None:
        if not options["sub"]:
            raise CommandError("--mint needs --sub, the subject of the token, e.g. --sub 'auth0|alice'")
        if options["lifetime"] <= 0:
            raise CommandError("--lifetime must be a positive number of seconds")
        claims = {"email": options["email"]} if options["email"] else None
        token = issuer.mint(options["sub"], lifetime=options["lifetime"], claims=claims)
        self.stdout.write(token)
        if settings.AUTH0["issuer"] != issuer.issuer:
            self.stderr.write(
                f"Note: AUTH0_ISSUER is {settings.AUTH0['issuer']}, so this service rejects the "
                f"token; set AUTH0_ISSUER={issuer.issuer} to accept it."
            )

    def serve(self, issuer: LocalIssuer) -> None:
        try:
            issuer.start()
        except OSError as exc:
            raise CommandError(f"cannot listen on {issuer.host}:{issuer.port}: {exc}") from exc
        self.stdout.write(f"Serving {issuer.jwks_url} (key {issuer.current_kid}).")
        self.stdout.write("Point the service at it with:")
        for name, value in issuer.env().items():
            self.stdout.write(f"  export {name}='{value}'")
        self.stdout.write("Press Ctrl-C to stop.")
        try:
            issuer.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
