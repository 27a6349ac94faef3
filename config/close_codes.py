"""Let daphne send the WebSocket close codes 1011 to 1014.

RFC 6455 (section 7.4.1) defines 1011 (internal error), and the IANA registry
adds 1012 (service restart), 1013 (try again later) and 1014 (bad gateway) for
servers to send. Autobahn (26.x, daphne's WebSocket implementation) refuses
every application close code but 1000 and 3000-4999 and raises instead, so the
client sees the connection drop (1006). This patch sends those four codes as
close frames directly and leaves every other code to autobahn's checks.
"""

from daphne.ws_protocol import WebSocketProtocol

SERVER_CLOSE_CODES = frozenset({1011, 1012, 1013, 1014})
_autobahn_server_close = WebSocketProtocol.serverClose


def _server_close(self, code=None):
    if code in SERVER_CLOSE_CODES:
        self.sendCloseFrame(code=code, isReply=False)
        return
    _autobahn_server_close(self, code)


def allow_server_close_codes() -> None:
    WebSocketProtocol.serverClose = _server_close
