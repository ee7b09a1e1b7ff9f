"""The test cluster's DNS records: every Service with a cluster address as
<name>.<namespace>.svc.cluster.local in a hosts file that dnsmasq serves
(re-read on SIGHUP), kept equal to the API server's Services once a second.
Started by kube-node.sh."""
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request

out = sys.argv[1]
ctx = ssl._create_unverified_context()
req = urllib.request.Request(
    "https://127.0.0.1:6443/api/v1/services",
    headers={"Authorization": "Bearer admin-token"},
)
last = None
while True:
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            items = json.load(r)["items"]
        lines = []
        for s in items:
            ip = s["spec"].get("clusterIP")
            if not ip or ip == "None":
                continue
            m = s["metadata"]
            lines.append(f"{ip} {m['name']}.{m['namespace']}.svc.cluster.local")
        text = "\n".join(sorted(lines)) + "\n"
        if text != last:
            tmp = out + ".new"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, out)
            subprocess.run(["pkill", "-HUP", "-x", "dnsmasq"], check=False)
            print(f"{len(lines)} services", flush=True)
            last = text
    except Exception as e:  # the API server may not answer yet
        print(f"sync: {e}", flush=True)
    time.sleep(1)
