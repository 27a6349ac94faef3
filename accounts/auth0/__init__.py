"""Auth0 access tokens: JWKS keys, verification, user mapping and DRF authentication.

The same code verifies REST requests (``authentication.Auth0Authentication``)
and WebSocket handshakes (``streaming.auth``). ``local_issuer`` is a stand-in
tenant for development and tests.
"""
