#!/usr/bin/env python3
"""Builds the static site surge-edge serves: content-hashed asset names and precompressed siblings.

    edge/web/build.py --out DIR

- app.css and app.js become assets/app.<sha256:10>.css|js (cached a year, immutable: the shipped
  config has `surge_immutable_hashed on` for /assets/), and the pages' references are rewritten;
- every text file gets .gz (zlib level 9), and .zst / .br when the zstd / brotli commands exist,
  kept only when smaller; surge-edge picks the sibling by Accept-Encoding;
- prints the bytes a first visit loads (the page + its assets, smallest encoding a browser takes).
Standard library only (Debian's python3); zstd and brotli are Debian packages.
"""
import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HASHED = ["app.css", "app.js"]  # referenced from the pages as /app.css and /app.js
PAGES = ["index.html", "queue/index.html"]
TEXT = (".html", ".css", ".js", ".json", ".svg", ".txt")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def precompress(path):
    with open(path, "rb") as f:
        raw = f.read()
    sizes = {"identity": len(raw)}
    gz = gzip.compress(raw, compresslevel=9, mtime=0)
    if len(gz) < len(raw):
        write(path + ".gz", gz)
        sizes["gzip"] = len(gz)
    for tool, ext, args in (("zstd", ".zst", ["-19", "-q", "-f"]), ("brotli", ".br", ["-q", "11", "-f"])):
        if shutil.which(tool) is None:
            continue
        out = path + ext
        subprocess.run([tool, *args, "-o", out, path], check=True)
        size = os.path.getsize(out)
        if size >= len(raw):
            os.remove(out)
        else:
            sizes[ext] = size
    return sizes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    renamed = {}
    for name in HASHED:
        src = os.path.join(HERE, name)
        if not os.path.exists(src):
            continue
        with open(src, "rb") as f:
            data = f.read()
        stem, ext = os.path.splitext(name)
        hashed = "assets/%s.%s%s" % (stem, hashlib.sha256(data).hexdigest()[:10], ext)
        write(os.path.join(out, hashed), data)
        renamed["/" + name] = "/" + hashed
    for page in PAGES:
        src = os.path.join(HERE, page)
        if not os.path.exists(src):
            continue
        with open(src, "r", encoding="utf-8") as f:
            html = f.read()
        for old, new in renamed.items():
            html = html.replace('"%s"' % old, '"%s"' % new)
        write(os.path.join(out, page), html.encode("utf-8"))
    # Everything else (the operator dashboard in ops/, ...) as it is.
    for root, dirs, files in os.walk(HERE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), HERE)
            if rel in HASHED or rel in PAGES or rel in ("build.py", "README.md"):
                continue
            with open(os.path.join(root, name), "rb") as f:
                write(os.path.join(out, rel), f.read())
    first_visit = 0
    for root, _, files in os.walk(out):
        for name in sorted(files):
            path = os.path.join(root, name)
            if not name.endswith(TEXT):
                continue
            sizes = precompress(path)
            rel = os.path.relpath(path, out)
            if rel == "index.html" or rel.startswith("assets/app."):
                first_visit += min(sizes.values())
    print("site: %s; first visit (index.html + its assets, compressed): %d bytes" % (out, first_visit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
