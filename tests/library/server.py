#!/usr/bin/env python3
"""A small library API server for the library:// tests, on 127.0.0.1 only (prints its port on
stdout). It follows the Sylabs container library API as scs-library-client speaks it
(docs/reference/registries.md §6), in memory, with image files in DIR:

  GET  /version                                  {"data": {"version", "apiVersion"}}
  GET  /assets/config/config.prod.json           {"libraryAPI": {"uri": <this server>}}
  GET  /v1/token-status                          200 with the right bearer token, else 401
  GET  /v1/entities/E   POST /v1/entities        {"name"}
  GET  /v1/collections/E/C   POST /v1/collections   {"name", "entity": <entity id>}
  GET  /v1/containers/E/C/N  POST /v1/containers    {"name", "collection": <collection id>}
  POST /v1/images                                {"hash": "sha256.<hex>", "container", "arch"}
  GET  /v1/images/REF?arch=A                     REF = [E/[C/]]N:TAG or :sha256.<hex>
  POST /v1/imagefile/<image id>                  the file (Content-Length); sha256 checked
  GET  /v1/imagefile/REF?arch=A                  the file (Range: bytes=N- honoured)
  POST /v1/tags/<container id>                   {"Tag", "ImageID", "Arch"}
  GET  /v1/search?value=Q                        {"data": {"entity", "collection", "container", "image"}}
  DELETE /v1/images/REF?arch=A                   the image and the tags pointing at it

Short references complete as the Sylabs library does: N is library/default/N, C/N is
library/C/N. Requests that create or upload need `Authorization: Bearer TOKEN`; reads are
anonymous. Errors are {"error": {"code", "message"}}. Every request line is appended to
DIR/.requests.

Usage: server.py DIR TOKEN
"""
import hashlib
import http.server
import json
import os
import sys
import threading
import urllib.parse

ROOT, TOKEN = sys.argv[1], sys.argv[2]
LOCK = threading.Lock()
ENTITIES, COLLECTIONS, CONTAINERS, IMAGES = {}, {}, {}, {}
COUNTER = [0]


def new_id(prefix):
    COUNTER[0] += 1
    return f"{prefix}{COUNTER[0]}"


def full(path):
    parts = path.strip("/").split("/")
    if len(parts) == 1:
        parts = ["library", "default"] + parts
    elif len(parts) == 2:
        parts = ["library"] + parts
    return "/".join(parts)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, msg):
        self.send_json(code, {"error": {"code": code, "message": msg}})

    def authorized(self):
        return self.headers.get("Authorization") == f"Bearer {TOKEN}"

    def record(self):
        with open(os.path.join(ROOT, ".requests"), "a") as fh:
            fh.write(f"{self.command} {self.path}\n")

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def image_for(self, ref, arch):
        path, _, tag = ref.rpartition(":")
        if not path:
            path, tag = ref, "latest"
        con = CONTAINERS.get(full(path))
        if con is None:
            return None
        if tag.startswith("sha256."):
            return next((i for i in IMAGES.values()
                         if i["hash"] == tag and i["container"] == con["id"]), None)
        iid = con["archTags"].get(arch, {}).get(tag)
        return IMAGES.get(iid)

    def do_GET(self):
        self.record()
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        arch = (q.get("arch") or ["amd64"])[0] or "amd64"
        p = u.path
        with LOCK:
            if p == "/version":
                return self.send_json(200, {"data": {"version": "singlet-test-1",
                                                     "apiVersion": "1.0.0"}})
            if p == "/assets/config/config.prod.json":
                host, port = self.server.server_address
                return self.send_json(200, {"libraryAPI": {"uri": f"http://{host}:{port}"}})
            if p == "/v1/token-status":
                if not self.authorized():
                    return self.error(401, "invalid token")
                return self.send_json(200, {"data": {"username": "alice"}})
            for prefix, table in (("/v1/entities/", ENTITIES),
                                  ("/v1/collections/", COLLECTIONS),
                                  ("/v1/containers/", CONTAINERS)):
                if p.startswith(prefix):
                    obj = table.get(p[len(prefix):])
                    if obj is None:
                        return self.error(404, "not found")
                    return self.send_json(200, {"data": obj})
            if p.startswith("/v1/images/"):
                img = self.image_for(p[len("/v1/images/"):], arch)
                if img is None:
                    return self.error(404, "image not found")
                return self.send_json(200, {"data": img})
            if p.startswith("/v1/imagefile/"):
                img = self.image_for(p[len("/v1/imagefile/"):], arch)
                if img is None or not img["uploaded"]:
                    return self.error(404, "image not found")
                data = open(os.path.join(ROOT, img["id"]), "rb").read()
            elif p == "/v1/search":
                v = (q.get("value") or [""])[0]
                if len(v) < 3:
                    return self.error(400, "search for at least 3 characters")
                return self.send_json(200, {"data": {
                    "entity": [e for e in ENTITIES.values() if v in e["name"]],
                    "collection": [c for c in COLLECTIONS.values() if v in c["name"]],
                    "container": [c for c in CONTAINERS.values() if v in c["name"]],
                    "image": [],
                }})
            else:
                return self.error(404, "no such endpoint")
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def do_POST(self):
        self.record()
        p = urllib.parse.urlparse(self.path).path
        if not self.authorized():
            n = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(n)
            return self.error(401, "a valid token is needed")
        with LOCK:
            if p.startswith("/v1/imagefile/"):
                img = IMAGES.get(p[len("/v1/imagefile/"):])
                n = int(self.headers.get("Content-Length") or -1)
                if n < 0:
                    return self.error(411, "Content-Length is required")
                data = self.rfile.read(n)
                if img is None:
                    return self.error(404, "no such image")
                if "sha256." + hashlib.sha256(data).hexdigest() != img["hash"]:
                    return self.error(400, "the file does not match the image hash")
                with open(os.path.join(ROOT, img["id"]), "wb") as fh:
                    fh.write(data)
                img["uploaded"], img["size"] = True, len(data)
                return self.send_json(200, {})
            b = self.body_json()
            if p == "/v1/entities":
                e = {"id": new_id("e"), "name": b["name"], "collections": []}
                ENTITIES[b["name"]] = e
                return self.send_json(200, {"data": e})
            if p == "/v1/collections":
                ent = next(e for e in ENTITIES.values() if e["id"] == b["entity"])
                c = {"id": new_id("c"), "name": b["name"], "entity": ent["id"],
                     "entityName": ent["name"]}
                COLLECTIONS[f"{ent['name']}/{b['name']}"] = c
                return self.send_json(200, {"data": c})
            if p == "/v1/containers":
                col = next(c for c in COLLECTIONS.values() if c["id"] == b["collection"])
                k = {"id": new_id("k"), "name": b["name"], "collection": col["id"],
                     "collectionName": col["name"], "entityName": col["entityName"],
                     "archTags": {}, "imageTags": {}}
                CONTAINERS[f"{col['entityName']}/{col['name']}/{b['name']}"] = k
                return self.send_json(200, {"data": k})
            if p == "/v1/images":
                i = {"id": new_id("i"), "hash": b["hash"], "container": b["container"],
                     "arch": b.get("arch", "amd64"), "uploaded": False, "size": 0,
                     "description": b.get("description", "")}
                IMAGES[i["id"]] = i
                return self.send_json(200, {"data": i})
            if p.startswith("/v1/tags/"):
                k = next((c for c in CONTAINERS.values()
                          if c["id"] == p[len("/v1/tags/"):]), None)
                if k is None or b.get("ImageID") not in IMAGES:
                    return self.error(400, "no such container or image")
                arch = b.get("Arch") or "amd64"
                k["archTags"].setdefault(arch, {})[b["Tag"]] = b["ImageID"]
                k["imageTags"][b["Tag"]] = b["ImageID"]
                return self.send_json(200, {"data": k["imageTags"]})
        return self.error(404, "no such endpoint")


def do_DELETE(self):
    self.record()
    u = urllib.parse.urlparse(self.path)
    arch = (urllib.parse.parse_qs(u.query).get("arch") or ["amd64"])[0]
    if not self.authorized():
        return self.error(401, "a valid token is needed")
    with LOCK:
        if not u.path.startswith("/v1/images/"):
            return self.error(404, "no such endpoint")
        img = self.image_for(u.path[len("/v1/images/"):], arch)
        if img is None:
            return self.error(404, "image not found")
        del IMAGES[img["id"]]
        for k in CONTAINERS.values():
            for tags in list(k["archTags"].values()) + [k["imageTags"]]:
                for t in [t for t, i in tags.items() if i == img["id"]]:
                    del tags[t]
        return self.send_json(200, {"data": img})


Handler.do_DELETE = do_DELETE
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
