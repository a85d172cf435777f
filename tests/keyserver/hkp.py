#!/usr/bin/env python3
"""A small HKP keyserver for the tests (draft-shaw-openpgp-hkp-00): `op=get`, `op=index` with
machine-readable output (`options=mr`), and `POST /pks/add` (form field `keytext`). Keys are
parsed by GnuPG (`gpg --show-keys --with-colons`), so what singlet sends is read by a real
OpenPGP implementation. Listens on 127.0.0.1 only; prints the port on stdout.

Usage: hkp.py STORE_DIR
"""
import http.server
import os
import subprocess
import sys
import tempfile
import urllib.parse

STORE = sys.argv[1]
GNUPGHOME = tempfile.mkdtemp(prefix="hkp-gnupg-")


def parse(armored: bytes):
    """(fingerprint, [uids], algo, bits, created) of the first key, by gpg."""
    out = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--show-keys"],
        input=armored, capture_output=True, env={**os.environ, "GNUPGHOME": GNUPGHOME},
    )
    if out.returncode != 0:
        return None
    fpr, uids, algo, bits, created = None, [], "", "", ""
    for line in out.stdout.decode(errors="replace").splitlines():
        f = line.split(":")
        if f[0] == "pub" and not algo:
            bits, algo, created = f[2], f[3], f[5]
        elif f[0] == "fpr" and fpr is None:
            fpr = f[9]
        elif f[0] == "uid":
            uids.append(f[9])
    return (fpr, uids, algo, bits, created) if fpr else None


def keys():
    for name in sorted(os.listdir(STORE)):
        if name.endswith(".asc"):
            with open(os.path.join(STORE, name), "rb") as fh:
                yield name[:-4], fh.read()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path != "/pks/lookup":
            return self.reply(404, "not found\n")
        q = urllib.parse.parse_qs(u.query)
        op, search = q.get("op", [""])[0], q.get("search", [""])[0]
        if op == "get":
            want = search[2:].upper() if search.lower().startswith("0x") else search.upper()
            for fpr, data in keys():
                if want and fpr.endswith(want):
                    return self.reply(200, data, "application/pgp-keys")
            return self.reply(404, "no such key\n")
        if op == "index":
            lines = []
            for fpr, data in keys():
                p = parse(data)
                if p is None:
                    continue
                _, uids, algo, bits, created = p
                s = search[2:].upper() if search.lower().startswith("0x") else search.lower()
                if not (fpr.endswith(s) or any(s in uid.lower() for uid in uids)):
                    continue
                lines.append(f"pub:{fpr}:{algo}:{bits}:{created}::")
                lines += [f"uid:{urllib.parse.quote(uid)}:{created}::" for uid in uids]
            if not lines:
                return self.reply(404, "no keys found\n")
            n = sum(1 for line in lines if line.startswith("pub:"))
            return self.reply(200, f"info:1:{n}\n" + "\n".join(lines) + "\n")
        return self.reply(501, "op not implemented\n")

    def do_POST(self):
        if self.path != "/pks/add":
            return self.reply(404, "not found\n")
        n = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        text = form.get("keytext", [""])[0].encode()
        p = parse(text)
        if p is None:
            return self.reply(400, "not an OpenPGP key\n")
        with open(os.path.join(STORE, p[0] + ".asc"), "wb") as fh:
            fh.write(text)
        return self.reply(200, "key added\n")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
