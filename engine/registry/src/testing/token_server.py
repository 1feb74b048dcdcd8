# A token server as the distribution spec describes one ("Docker Registry
# v2 authentication"): GET /token?service=…&scope=repository:<name>:<actions>
# with the right basic-auth login answers {"token": <JWT>}, an RS256 JWT
# whose x5c header carries the certificate the registry trusts
# (auth.token.rootcertbundle). Signing goes through the openssl CLI, so the
# script needs nothing beyond Python's standard library.
#
# Arguments: key.pem cert.der.b64 issuer service user password.
# Prints the port it listens on (127.0.0.1), then serves until killed.
import base64
import json
import secrets
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

key, cert_b64, issuer, service, user, password = sys.argv[1:7]
login = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_b64]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", key],
        input=signing_input.encode(),
        capture_output=True,
        check=True,
    ).stdout
    return signing_input + "." + b64url(signature)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        query = parse_qs(urlparse(self.path).query)
        if self.headers.get("Authorization") != login:
            return self.answer(401)
        if query.get("service") != [service]:
            return self.answer(400)
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": issuer,
            "sub": user,
            "aud": service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        self.answer(200, json.dumps({"token": sign(claims), "expires_in": 300}).encode())


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
