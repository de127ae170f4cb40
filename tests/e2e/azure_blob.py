#!/usr/bin/env python3
"""The Azure Blob helper of the e2e tests: an independent Shared Key client (Python's standard
library only) that creates a container, uploads a tree the registry wrote on disk under the
azure driver's blob names, lists and reads blobs, and checks every tag of a tree in a container.

usage: azure_blob.py ENDPOINT COMMAND ARGS...   (ENDPOINT: http://127.0.0.1:PORT/ACCOUNT;
       AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY give the account and its key)
  mkcontainer CONTAINER
  upload CONTAINER DIR PREFIX       every file below DIR as blob PREFIX + its relative path
  list CONTAINER [PREFIX]           every blob name, one a line
  get CONTAINER NAME                the blob's bytes to stdout
  put CONTAINER NAME FILE
  delete CONTAINER NAME
  lease CONTAINER NAME              an infinite lease: a Delete Blob without its id fails (412)
  unlease CONTAINER NAME            breaks the lease at once
  verify CONTAINER V2PREFIX         every tag's manifest, children and blobs present with the
                                    right sha256 (V2PREFIX: the names' prefix of docker/registry/v2/)
"""
import base64
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import json
import os
import sys
import urllib.parse
import xml.etree.ElementTree as ET

VERSION = "2020-10-02"


class Blob:
    def __init__(self, endpoint):
        self.url = urllib.parse.urlsplit(endpoint)
        self.account = os.environ["AZURE_STORAGE_ACCOUNT"]
        self.key = base64.b64decode(os.environ["AZURE_STORAGE_KEY"])

    def request(self, method, path, query="", body=b"", headers=None):
        headers = dict(headers or {})
        headers["x-ms-version"] = VERSION
        headers["x-ms-date"] = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%a, %d %b %Y %H:%M:%S GMT")
        full = self.url.path + "/" + urllib.parse.quote(path, safe="/~")
        length = str(len(body)) if body else ""
        canon_headers = "".join(
            f"{k.lower()}:{v}\n" for k, v in sorted(headers.items(), key=lambda kv: kv[0].lower())
            if k.lower().startswith("x-ms-"))
        canon_query = ""
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        for name in sorted(params, key=str.lower):
            canon_query += f"\n{name.lower()}:{','.join(sorted(params[name]))}"
        to_sign = "\n".join([method, "", "", length, "", headers.get("Content-Type", ""), "", "",
                             "", "", "", ""]) + "\n" + canon_headers + \
            f"/{self.account}{full}{canon_query}"
        sig = base64.b64encode(hmac.new(self.key, to_sign.encode(), hashlib.sha256).digest())
        headers["Authorization"] = f"SharedKey {self.account}:{sig.decode()}"
        conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=60)
        conn.request(method, full + ("?" + query if query else ""), body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, data

    def check(self, status, data, ok, what):
        if status not in ok:
            sys.exit(f"azure_blob.py: {what}: {status} {data[:300]!r}")
        return data

    def mkcontainer(self, container):
        s, d = self.request("PUT", container, "restype=container")
        self.check(s, d, (201, 409), f"create {container}")

    def put(self, container, name, body):
        s, d = self.request("PUT", f"{container}/{name}", body=body,
                            headers={"x-ms-blob-type": "BlockBlob",
                                     "Content-Type": "application/octet-stream"})
        self.check(s, d, (201,), f"put {name}")

    def get(self, container, name):
        s, d = self.request("GET", f"{container}/{name}")
        return s, d

    def delete(self, container, name):
        s, d = self.request("DELETE", f"{container}/{name}")
        self.check(s, d, (202, 404), f"delete {name}")

    def lease(self, container, name, action):
        headers = {"x-ms-lease-action": action}
        if action == "acquire":
            headers["x-ms-lease-duration"] = "-1"
        else:
            headers["x-ms-lease-break-period"] = "0"
        s, d = self.request("PUT", f"{container}/{name}", "comp=lease", headers=headers)
        self.check(s, d, (201, 202), f"lease {action} {name}")

    def list(self, container, prefix=""):
        marker = ""
        while True:
            q = "comp=list&prefix=" + urllib.parse.quote(prefix, safe="") + "&restype=container"
            if marker:
                q += "&marker=" + urllib.parse.quote(marker, safe="")
            s, d = self.request("GET", container, q)
            root = ET.fromstring(self.check(s, d, (200,), f"list {prefix}"))
            for b in root.iter("Blob"):
                yield b.find("Name").text
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return


def upload(b, container, top, prefix):
    files = []
    for d, _, names in os.walk(top):
        for n in names:
            p = os.path.join(d, n)
            files.append((p, prefix + os.path.relpath(p, top)))

    def one(f):
        with open(f[0], "rb") as fh:
            body = fh.read()
        # A put is idempotent: one the emulator was too slow to answer is sent again.
        for attempt in range(5):
            try:
                return b.put(container, f[1], body)
            except (TimeoutError, ConnectionError):
                if attempt == 4:
                    raise
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(one, files))
    print(len(files))


def verify(b, container, v2):
    """Every tag's manifest, its children (an index's) and their blobs, present and whole."""
    names = set(b.list(container, v2 + "repositories/"))
    bad = 0
    checked = 0

    def blob(digest):
        hexd = digest.split(":", 1)[1]
        s, d = b.get(container, f"{v2}blobs/sha256/{hexd[:2]}/{hexd}/data")
        if s != 200 or hashlib.sha256(d).hexdigest() != hexd:
            return None
        return d

    def manifest(digest, where):
        nonlocal bad, checked
        d = blob(digest)
        checked += 1
        if d is None:
            print(f"missing or corrupt: {digest} ({where})")
            bad += 1
            return
        m = json.loads(d)
        for child in m.get("manifests", []):
            manifest(child["digest"], where)
        for layer in m.get("layers", []) + ([m["config"]] if "config" in m else []):
            checked += 1
            if blob(layer["digest"]) is None:
                print(f"missing or corrupt: {layer['digest']} ({where})")
                bad += 1
    for n in sorted(names):
        if "/_manifests/tags/" in n and n.endswith("/current/link"):
            s, d = b.get(container, n)
            manifest(d.decode().strip(), n)
    print(f"checked {checked} blobs; {bad} missing or corrupt")
    return bad == 0


def main():
    endpoint, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    b = Blob(endpoint)
    if command == "mkcontainer":
        b.mkcontainer(args[0])
    elif command == "upload":
        upload(b, args[0], args[1], args[2])
    elif command == "list":
        for n in b.list(args[0], args[1] if len(args) > 1 else ""):
            print(n)
    elif command == "get":
        s, d = b.get(args[0], args[1])
        if s != 200:
            sys.exit(f"azure_blob.py: get {args[1]}: {s}")
        sys.stdout.buffer.write(d)
    elif command == "put":
        with open(args[2], "rb") as fh:
            b.put(args[0], args[1], fh.read())
    elif command == "delete":
        b.delete(args[0], args[1])
    elif command == "lease":
        b.lease(args[0], args[1], "acquire")
    elif command == "unlease":
        b.lease(args[0], args[1], "break")
    elif command == "verify":
        sys.exit(0 if verify(b, args[0], args[1]) else 1)
    else:
        sys.exit(f"azure_blob.py: unknown command {command}")


if __name__ == "__main__":
    main()
