"""A hostile matcher in Python: on every match-photo it tries each way out of the sandbox and
answers `no-criteria` with what happened, one `NAME: denied (...)` or `NAME: GOT ...` per try,
separated by "; ". Each result is also logged.

Settings: `port` (a TCP port on 127.0.0.1 the test listens on), `variable` (an environment
variable the host process has, e.g. `PATH`).
"""

# Imported now, while componentize-py builds the component: at run time there is no file system
# to load a module from, and CPython encodes every host name with the idna codec.
import encodings.idna  # noqa: F401
import os
import random
import socket
import time
import urllib.request
import http.client  # noqa: F401  (urllib's, loaded at build time for the same reason)

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.exports.matcher import MatchOutcome_NoCriteria
from wit_world.imports import log, outgoing_handler, wasi_http_types as wasi_http


def _tcp(port):
    # A numeric address: no name lookup, straight to wasi:sockets/tcp's connect.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(("127.0.0.1", port))
        s.sendall(b"hello from the sandbox\n")
    return "connected"


def _udp(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"hello", ("127.0.0.1", port))
    return "sent"


def _lookup(_port):
    return repr(socket.getaddrinfo("localhost", 80))


def _passwd(_port):
    with open("/etc/passwd") as f:
        return repr(f.read(40))


def _files(_port):
    return repr(os.listdir("/"))


def _urllib(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/secret" % port, timeout=2) as r:
        return "status %d" % r.status


def _wasi_http(port):
    request = wasi_http.OutgoingRequest(wasi_http.Fields())
    request.set_scheme(wasi_http.Scheme_Http())
    request.set_authority("127.0.0.1:%d" % port)
    request.set_path_with_query("/secret")
    future = outgoing_handler.handle(request, None)
    future.subscribe().block()
    # option<result<result<incoming-response, error-code>, ()>>: an error code is a refusal.
    answer = future.get()
    if not isinstance(answer, Ok):
        raise ConnectionError("no response (%r)" % (answer,))
    if isinstance(answer.value, Err):
        raise ConnectionError("error code %r" % (answer.value.value,))
    return "status %d" % answer.value.value.status()


TRIES = [
    ("tcp", _tcp),
    ("udp", _udp),
    ("name-lookup", _lookup),
    ("passwd", _passwd),
    ("list-root", _files),
    ("http-urllib", _urllib),
    ("wasi-http", _wasi_http),
]


def _attempt(name, how, port):
    try:
        return "%s: GOT %s" % (name, how(port))
    except BaseException as error:  # anything but success is what the host should cause
        text = " ".join(str(error).split())[:160]
        return "%s: denied (%s: %s)" % (name, type(error).__name__, text)


class Matcher(exports.Matcher):
    def match_photo(self, settings, photo):
        config = {s.key: s.value for s in settings}
        port = int(config.get("port", "9"))
        report = [_attempt(name, how, port) for name, how in TRIES]
        variable = config.get("variable", "HOME")
        value = os.environ.get(variable)
        report.append("environment: %s" % ("denied (%s is not set)" % variable if value is None
                                            else "GOT %s=%s" % (variable, value)))
        report.append("arguments: %s" % ("denied (none)" if len(os.sys.argv) <= 1
                                         else "GOT %r" % (os.sys.argv,)))
        report.append("clock: %s" % ("ok" if time.time() > 1.7e9 else "WRONG %r" % time.time()))
        report.append("random: %s" % ("ok" if len(set(random.SystemRandom().randbytes(16))) > 1
                                      else "WRONG"))
        for line in report:
            log.log(log.Level.INFO, line)
        return MatchOutcome_NoCriteria("; ".join(report))

    def photo_names(self, settings, entry):
        return []
