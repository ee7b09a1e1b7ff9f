"""The test cluster's DNS records, as CoreDNS would answer them: a Service
with a cluster address as <name>.<namespace>.svc.cluster.local, a headless
one as the addresses of its ready endpoints (and <pod>.<name>... for
StatefulSet pods), in a hosts file that dnsmasq serves (re-read on SIGHUP),
kept equal to the API server's Services once a second. Started by
kube-node.sh."""
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request

out = sys.argv[1]
ctx = ssl._create_unverified_context()


def get(path):
    req = urllib.request.Request(
        "https://127.0.0.1:6443" + path,
        headers={"Authorization": "Bearer admin-token"},
    )
    with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
        return json.load(r)["items"]


last = None
while True:
    try:
        endpoints = {
            (e["metadata"]["namespace"], e["metadata"]["name"]): e
            for e in get("/api/v1/endpoints")
        }
        lines = []
        for s in get("/api/v1/services"):
            m = s["metadata"]
            name = f"{m['name']}.{m['namespace']}.svc.cluster.local"
            ip = s["spec"].get("clusterIP")
            if ip and ip != "None":
                lines.append(f"{ip} {name}")
                continue
            e = endpoints.get((m["namespace"], m["name"]), {})
            for subset in e.get("subsets") or []:
                for a in subset.get("addresses") or []:
                    lines.append(f"{a['ip']} {name}")
                    if a.get("hostname"):
                        lines.append(f"{a['ip']} {a['hostname']}.{name}")
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
