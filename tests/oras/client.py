#!/usr/bin/env python3
"""An independent ORAS client for the oras:// tests and bench/pull.sh: the ORAS project's
Python SDK (PyPI `oras`, installed by scripts/deps.sh into /opt/singlet-venv), used the way
Apptainer pushes a SIF: the empty JSON config with media type
application/vnd.sylabs.sif.config.v1+json and the SIF as the one layer,
application/vnd.sylabs.sif.layer.v1.sif, titled with its file name.

Usage:
  client.py push REGISTRY/REPO:TAG FILE.sif [LAYER_MEDIA_TYPE]
  client.py pull REGISTRY/REPO:TAG OUTDIR       (prints the files written)
Plain HTTP (the test registries listen on 127.0.0.1 without TLS). Credentials, when the
registry wants them, come from ORAS_USER and ORAS_PASSWORD.
"""
import os
import sys
import tempfile

import oras.client

SIF_CONFIG = "application/vnd.sylabs.sif.config.v1+json"
SIF_LAYER = "application/vnd.sylabs.sif.layer.v1.sif"


def client(target):
    c = oras.client.OrasClient(hostname=target.split("/")[0], insecure=True)
    if os.environ.get("ORAS_USER"):
        c.login(
            username=os.environ["ORAS_USER"],
            password=os.environ.get("ORAS_PASSWORD", ""),
            insecure=True,
        )
    return c


def main():
    verb, target = sys.argv[1], sys.argv[2]
    c = client(target)
    if verb == "push":
        path = sys.argv[3]
        media = sys.argv[4] if len(sys.argv) > 4 else SIF_LAYER
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "config.json")
            with open(cfg, "w") as fh:
                fh.write("{}")
            # oras-py names the layer after the path as given: push from the file's directory.
            os.chdir(os.path.dirname(os.path.abspath(path)))
            c.push(
                target=target,
                files=[f"{os.path.basename(path)}:{media}"],
                manifest_config=f"{cfg}:{SIF_CONFIG}",
                disable_path_validation=True,
                quiet=True,
            )
    elif verb == "pull":
        for f in c.pull(target=target, outdir=sys.argv[3]):
            print(f)
    else:
        sys.exit(f"unknown verb {verb}")


if __name__ == "__main__":
    main()
