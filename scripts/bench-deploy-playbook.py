#!/usr/bin/env python3
"""Writes the Ansible playbook that installs what cdwiz installs, from
cdwiz's own rendered files (one run directory's `rendered/`), so that
`scripts/bench-deploy` compares the two on the same end state: the same
directories, secret files (0600), config files, image archive loaded when
its images are missing, the same containers (host network, env files,
binds, capabilities) in dependency order across hosts, each waited healthy,
then the platform checked through the VIP.

The playbook is what a careful hand-written Ansible installer does (tasks
guarded so that a second run changes nothing), with ansible-core's
built-in modules only.

With a sixth argument FLOOR, it also writes the plain-ssh floor of the
same work as a bash script (FLOOR) with its files (FLOOR.d/): per host in
parallel, the config and secret files as one tar stream and the image
archive streamed into `docker load`, both over ssh; then per component in
dependency order, `docker run` with the same options on its hosts and the
same health wait from this machine (polled every 0.5 s, as cdwiz does);
then the platform through the VIP.
Nothing is checked first: it is what the least a deploy must do costs.

usage: bench-deploy-playbook.py RENDERED_DIR MANIFEST SECRETS VIP OUT [FLOOR]
"""
import json
import os
import shlex
import shutil
import sys

import yaml

rendered, manifest_path, secrets_path, vip, out = sys.argv[1:6]
floor = sys.argv[6] if len(sys.argv) > 6 else None
manifest = yaml.safe_load(open(manifest_path))
secrets = yaml.safe_load(open(secrets_path))
bundle = os.path.dirname(os.path.abspath(manifest_path))
hosts = sorted(os.listdir(rendered))
compose = {h: yaml.safe_load(open(os.path.join(rendered, h, "docker-compose.yml"))) for h in hosts}
health = {c["name"]: c.get("health") for c in manifest["components"]}
image = manifest["images"][0]

tasks = []
# Directories exist (their modes are the components' business: the
# database keeps its own 0700).
tasks.append({"name": "directories", "file": {"path": "{{ item }}", "state": "directory"},
              "loop": ["/data/cd/config/keepalived", "/data/cd/secrets", "/data/cd/images",
                       "/data/cd/database", "/data/cd/cache"]})
for name, value in sorted(secrets.items()):
    tasks.append({"name": f"secret {name}", "no_log": True,
                  "copy": {"content": value, "dest": f"/data/cd/secrets/{name}", "mode": "0600"}})
def configs(h):
    """A host's rendered config files: (path here, path under config/)."""
    for root, _, files in os.walk(os.path.join(rendered, h)):
        for f in files:
            if f != "docker-compose.yml":
                src = os.path.join(root, f)
                yield src, os.path.relpath(src, os.path.join(rendered, h))


for h in hosts:
    for src, rel in configs(h):
        tasks.append({"name": f"config {rel} on {h}", "when": f"inventory_hostname == '{h}'",
                      "copy": {"src": src, "dest": f"/data/cd/config/{rel}", "mode": "0644"}})
archive = f"/data/cd/images/{os.path.basename(image['file'])}"
tasks.append({"name": "image archive", "copy": {"src": os.path.join(bundle, image["file"]), "dest": archive}})
refs = " ".join(image["references"])
tasks.append({"name": "load images", "shell": f"docker image inspect {refs} >/dev/null 2>&1 && echo present || docker load -i {archive}",
              "register": "load", "changed_when": "'present' not in load.stdout"})

# Services in dependency order, as the compose files list them.
order = []
runs = {}
for h in hosts:
    for s in compose[h]["services"]:
        if s not in order:
            order.append(s)
for s in order:
    on = [h for h in hosts if s in compose[h]["services"]]
    for h in on:
        spec = compose[h]["services"][s]
        args = ["docker", "run", "-d", "--name", spec["container_name"], "--restart", "unless-stopped",
                "--network", "host"]
        for e in spec.get("env_file", []):
            args += ["--env-file", f"/data/cd/config/{e}"]
        for v in spec.get("volumes", []):
            args += ["-v", v]
        for c in spec.get("cap_add", []):
            args += ["--cap-add", c]
        args += [spec["image"]] + spec.get("command", [])
        run = " ".join(json.dumps(a) if " " in a else a for a in args)
        runs.setdefault(s, []).append((h, " ".join(shlex.quote(a) for a in args)))
        tasks.append({"name": f"start {s} on {h}", "when": f"inventory_hostname == '{h}'",
                      "shell": f"docker inspect {spec['container_name']} >/dev/null 2>&1 && echo present || {run}",
                      "register": "started", "changed_when": "'present' not in started.stdout"})
    hc = health.get(s)
    if hc:
        cond = " or ".join(f"inventory_hostname == '{h}'" for h in on)
        if hc.get("http"):
            tasks.append({"name": f"wait {s} healthy", "when": cond,
                          "uri": {"url": f"http://{{{{ inventory_hostname }}}}:{hc['port']}{hc['http']}"},
                          "register": "h", "until": "h.status == 200", "retries": 90, "delay": 1})
        else:
            tasks.append({"name": f"wait {s} healthy", "when": cond,
                          "wait_for": {"host": "{{ inventory_hostname }}", "port": hc["port"], "timeout": 180}})
entry = manifest.get("entry", {})
tasks.append({"name": "verify through the VIP", "run_once": True, "delegate_to": "localhost",
              "uri": {"url": f"http://{vip}{entry.get('verify', '/')}"},
              "register": "v", "until": "v.status == 200", "retries": 60, "delay": 1})

play = [{"hosts": "all", "gather_facts": False, "tasks": tasks}]
with open(out, "w") as f:
    yaml.safe_dump(play, f, sort_keys=False, width=1000)

if floor:
    files = floor + ".d"
    shutil.rmtree(files, ignore_errors=True)
    for h in hosts:
        for src, rel in configs(h):
            dest = os.path.join(files, h, "config", rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(src, dest)
        os.makedirs(os.path.join(files, h, "secrets"), exist_ok=True)
        for name, value in secrets.items():
            path = os.path.join(files, h, "secrets", name)
            with open(path, "w") as f:
                f.write(value)
            os.chmod(path, 0o600)
    q = shlex.quote
    lines = [
        "#!/usr/bin/env bash",
        "# The plain-ssh floor of the deploy (written by bench-deploy-playbook.py).",
        "set -euo pipefail",
        'key=$1',
        'o=(-i "$key" -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=error -o BatchMode=yes)',
        "waitall() { local rc=0 p; for p in $(jobs -p); do wait \"$p\" || rc=1; done; return $rc; }",
        "healthy() { # host port path: as cdwiz waits, from this machine",
        "  for _ in $(seq 360); do",
        '    if [ -n "$3" ]; then curl -fsS --max-time 2 "http://$1:$2$3" >/dev/null 2>&1 && return 0',
        '    else (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; fi',
        "    sleep 0.5",
        "  done",
        '  echo "$1:$2 never became healthy" >&2; return 1',
        "}",
    ]
    for h in hosts:
        lines.append(
            f"( tar -C {q(os.path.join(files, h))} -cf - . | ssh \"${{o[@]}}\" root@{h} "
            f"'mkdir -p /data/cd && tar -C /data/cd -xf - && chmod 700 /data/cd/secrets' && "
            f"s=$(date +%s.%N) && "
            f"ssh \"${{o[@]}}\" root@{h} docker load < {q(os.path.join(bundle, image['file']))} >/dev/null && "
            f"echo \"{h} $(echo \"$(date +%s.%N) - $s\" | bc -l)\" >> \"${{LOAD_TIMES:-/dev/null}}\" ) &"
        )
    lines.append("waitall")
    for s_ in order:
        for h, run in runs.get(s_, []):
            lines.append(f"ssh \"${{o[@]}}\" root@{h} {q(run)} >/dev/null &")
        lines.append("waitall")
        hc = health.get(s_)
        if hc:
            for h, _ in runs.get(s_, []):
                lines.append(f"healthy {h} {hc['port']} {q(hc.get('http') or '')} &")
            lines.append("waitall")
    lines.append(f"healthy {vip} 80 {q(entry.get('verify', '/'))}")
    with open(floor, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(floor, 0o755)
