#!/usr/bin/env python3
"""Local stand-ins for the AWS services that hand out keys, for regsweep's credential chain:
the instance metadata service (IMDSv2: a session token first), the container credentials
endpoint (ECS) and STS's AssumeRoleWithWebIdentity. Each hands out the keys it was given (the
test's Ceph RGW user's), checks what the real service checks (the session token, the
authorization token, the web identity token and role) and logs each request, one line.

usage: aws_creds_stub.py --port P --access KEY --secret SECRET --log FILE
                         [--auth TOKEN] [--web-token TOKEN] [--role ARN] [--expires-in S]
"""
import argparse
import datetime
import http.server
import json
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--access", required=True)
ap.add_argument("--secret", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--auth", default="ecs-authorization")
ap.add_argument("--web-token", default="web-identity-token")
ap.add_argument("--role", default="arn:aws:iam::000000000000:role/regsweep")
ap.add_argument("--expires-in", type=int, default=3600)
args = ap.parse_args()
SESSION = "imds-session-token"
ROLE = "regsweep-role"


def expiration():
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=args.expires_in)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def keys_json():
    # RGW's keys are long-term: no session token (RGW would refuse one it did not issue).
    return json.dumps({"Code": "Success", "AccessKeyId": args.access,
                       "SecretAccessKey": args.secret, "Token": "",
                       "Expiration": expiration()}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def note(self, what):
        with open(args.log, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path.split("?")[0], what))

    def answer(self, code, body=b"", kind="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        if self.path == "/latest/api/token" and \
                self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self.note("imds-token")
            return self.answer(200, SESSION.encode())
        self.note("refused")
        self.answer(400)

    def do_GET(self):
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path.startswith(base):
            if self.headers.get("X-aws-ec2-metadata-token") != SESSION:
                self.note("imds-no-session")
                return self.answer(401)
            if self.path == base:
                self.note("imds-role")
                return self.answer(200, (ROLE + "\n").encode())
            if self.path == base + ROLE:
                self.note("imds-keys")
                return self.answer(200, keys_json(), "application/json")
            return self.answer(404)
        if self.path == "/ecs/credentials":
            if self.headers.get("Authorization") != args.auth:
                self.note("ecs-unauthorized")
                return self.answer(403)
            self.note("ecs-keys")
            return self.answer(200, keys_json(), "application/json")
        self.note("unknown")
        self.answer(404)

    def do_POST(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if q.get("Action") != ["AssumeRoleWithWebIdentity"]:
            self.note("unknown")
            return self.answer(400)
        if q.get("WebIdentityToken") != [args.web_token] or q.get("RoleArn") != [args.role]:
            self.note("sts-denied")
            body = (b"<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>")
            return self.answer(403, body, "text/xml")
        self.note("sts-keys")
        body = ("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
                "<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
                "<SessionToken></SessionToken><Expiration>%s</Expiration></Credentials>"
                "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
                % (args.access, args.secret, expiration())).encode()
        self.answer(200, body, "text/xml")


http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
