#!/usr/bin/env python3
"""Applies capstan/messaging-sqs effects to a real moto_server, as the engine's
HTTP executor would (minus SigV4: moto does not check signatures), and reports
the resulting queues.

Usage: apply_on_moto.py REGION EFFECTS.json [EFFECTS.json ...]
Each file is one apply: a JSON list of effects as the plugin declared them
(`{"id", "target", "summary", "kind": {"http": {...}}}`). Prints JSON:
{"results": [{id: body}] per apply, "queues": {url: {"attributes": {...}, "tags": {...}}}}.
Exits non-zero, naming the effect, if any call fails.
"""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, region, target, body):
    req = urllib.request.Request(base + "/", data=json.dumps(body).encode(), method="POST")
    req.add_header("X-Amz-Target", target)
    req.add_header("Content-Type", "application/x-amz-json-1.0")
    # moto reads the region from the credential scope; the signature is not checked.
    req.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/sqs/aws4_request, SignedHeaders=host, Signature=0",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
        return json.loads(text) if text else {}


def main(region, files):
    port = free_port()
    server = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("moto_server did not start")
        report = {"results": [], "queues": {}}
        for path in files:
            with open(path, encoding="utf-8") as fh:
                effects = json.load(fh)
            results = {}
            for effect in effects:
                http = effect["kind"]["http"]
                headers = dict(http["headers"])
                body = json.loads(http["body"]["plain"])
                try:
                    results[effect["id"]] = call(base, region, headers["X-Amz-Target"], body)
                except urllib.error.HTTPError as e:
                    sys.exit(f"effect {effect['id']} ({effect['summary']}) failed: {e.code} {e.read().decode()}")
            report["results"].append(results)
        for url in call(base, region, "AmazonSQS.ListQueues", {}).get("QueueUrls", []):
            attrs = call(base, region, "AmazonSQS.GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})
            tags = call(base, region, "AmazonSQS.ListQueueTags", {"QueueUrl": url})
            report["queues"][url] = {"attributes": attrs.get("Attributes", {}), "tags": tags.get("Tags", {})}
        print(json.dumps(report))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
