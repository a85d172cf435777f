#!/usr/bin/env python3
"""A file server for the download tests, on 127.0.0.1 only (prints its port on stdout):
serves the files of DIR with `Range: bytes=N-` support (206 answers), and on request
misbehaves:
  /cut-once/N/FILE   the first request sends only N bytes of the body (Content-Length says
                     the whole), then closes; later requests are served normally
  /status/CODE/FILE  answers CODE
  /v2/...            answers 500 (a registry that is broken, for the oras:// tests)
HEAD answers with the file's length and an ETag of its size and modification time (what
`exec https://…` keys its cache entry by).
Every request's Range header (or "-") is appended to DIR/.ranges.

Usage: range.py DIR
"""
import http.server
import os
import sys

ROOT = sys.argv[1]
CUT_DONE = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        f = os.path.join(ROOT, *self.path.split("?")[0].strip("/").split("/"))
        if not os.path.isfile(f):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        st = os.stat(f)
        self.send_response(200)
        self.send_header("Content-Length", str(st.st_size))
        self.send_header("ETag", f'"{st.st_size}-{st.st_mtime_ns}"')
        self.end_headers()

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith("/v2/"):
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(os.path.join(ROOT, ".ranges"), "a") as fh:
            fh.write((self.headers.get("Range") or "-") + "\n")
        parts = path.strip("/").split("/")
        cut = None
        if parts[0] == "status":
            self.send_response(int(parts[1]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts[0] == "cut-once":
            if path not in CUT_DONE:
                cut = int(parts[1])
                CUT_DONE.add(path)
            parts = parts[2:]
        f = os.path.join(ROOT, *parts)
        if not os.path.isfile(f):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(f, "rb").read()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
