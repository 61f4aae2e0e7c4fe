#!/usr/bin/env python3
"""Offline structure checks of the deployment files (no Docker engine, no
Kubernetes API server on the test machine):

  deploy_check.py dockerfile SRC   the Dockerfile: multi-stage on bookworm,
                                   non-root final user, HEALTHCHECK on
                                   /healthz, entrypoint copied and used, every
                                   COPY --from names an earlier stage, every
                                   COPY source exists in the build context
  deploy_check.py kubernetes SRC   deploy/kubernetes/skein.yaml (python3-yaml):
                                   StatefulSet + headless Service for its
                                   serviceName, readiness on /healthz, a
                                   preStop that drains, a PodDisruptionBudget
                                   whose selector matches the pods, named
                                   ports that exist
Exit 0 when every check passes, else 1 with one line per failure."""
import os
import shlex
import sys

import yaml

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def dockerfile_instructions(path):
    """(INSTRUCTION, argument text) per instruction; continuations joined."""
    out, cur = [], ""
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        word, _, rest = cur.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    check(not cur, "Dockerfile ends inside a continued line")
    return out


def check_dockerfile(src):
    ins = dockerfile_instructions(os.path.join(src, "Dockerfile"))
    known = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
             "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
    for word, _ in ins:
        check(word in known, f"unknown Dockerfile instruction {word}")
    stages = []  # (name, [instructions])
    for word, arg in ins:
        if word == "FROM":
            parts = arg.split()
            check(parts[0].startswith("debian:bookworm"), f"base image {parts[0]} is not Debian bookworm")
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append((name, []))
        else:
            check(bool(stages) or word == "ARG", f"{word} before the first FROM")
            if stages:
                stages[-1][1].append((word, arg))
    check(len(stages) >= 2, "not multi-stage (want a build and a runtime stage)")
    names = [n for n, _ in stages]
    for i, (_, body) in enumerate(stages):
        for word, arg in body:
            if word == "COPY":
                args = shlex.split(arg)
                frm = [a for a in args if a.startswith("--from=")]
                if frm:
                    check(frm[0][7:] in names[:i], f"COPY {frm[0]} names no earlier stage")
                else:
                    for s in [a for a in args if not a.startswith("--")][:-1]:
                        check(s == "." or os.path.exists(os.path.join(src, s)), f"COPY source {s} missing")
    final = stages[-1][1]
    users = [arg for w, arg in final if w == "USER"]
    check(users and users[-1].split(":")[0] not in ("root", "0"), "final stage does not switch to a non-root USER")
    hc = [arg for w, arg in final if w == "HEALTHCHECK"]
    check(hc and "/healthz" in hc[-1] and "CMD" in hc[-1], "no HEALTHCHECK on /healthz in the final stage")
    ep = [arg for w, arg in final if w == "ENTRYPOINT"]
    check(bool(ep), "no ENTRYPOINT")
    if ep:
        target = yaml.safe_load(ep[-1])[0]  # exec form: a JSON array
        copied = [shlex.split(a)[-1] for w, a in final if w == "COPY"]
        check(target in copied, f"ENTRYPOINT {target} is not COPY'd into the final stage")
    exposed = " ".join(a for w, a in final if w == "EXPOSE").split()
    check("8080" in exposed and ("7070" in exposed or "7070/tcp" in exposed),
          f"EXPOSE {exposed}: want 8080 and 7070")
    check("7070/udp" in exposed, f"EXPOSE {exposed}: want 7070/udp (UDP heartbeats, --heartbeat-udp)")


def check_kubernetes(src):
    docs = [d for d in yaml.safe_load_all(open(os.path.join(src, "deploy/kubernetes/skein.yaml"))) if d]
    by_kind = {}
    for d in docs:
        check({"apiVersion", "kind", "metadata"} <= d.keys(), f"document without apiVersion/kind/metadata: {d}")
        by_kind.setdefault(d["kind"], []).append(d)
    sts = by_kind.get("StatefulSet", [None])[0]
    check(sts is not None, "no StatefulSet")
    if sts is None:
        return
    spec = sts["spec"]
    check(sts["apiVersion"] == "apps/v1", "StatefulSet apiVersion")
    pod_labels = spec["template"]["metadata"]["labels"]
    match = spec["selector"]["matchLabels"]
    check(match.items() <= pod_labels.items(), "StatefulSet selector does not match its pod labels")
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    headless = services.get(spec["serviceName"])
    check(headless is not None, f"serviceName {spec['serviceName']} is not a Service here")
    if headless:
        check(headless["spec"].get("clusterIP") == "None", "the StatefulSet's Service is not headless")
        check(headless["spec"]["selector"].items() <= pod_labels.items(), "headless Service selects no pod")
    check(spec.get("replicas", 1) >= 3, "fewer than 3 replicas")
    check(bool(spec.get("volumeClaimTemplates")), "no volumeClaimTemplates (data must be stable per name)")
    c = spec["template"]["spec"]["containers"][0]
    port_names = {p["name"] for p in c.get("ports", [])}
    cluster_ports = {(p["containerPort"], p.get("protocol", "TCP")) for p in c.get("ports", [])
                     if p.get("name") in ("cluster", "heartbeat")}
    check(len(cluster_ports) == 2 and len({n for n, _ in cluster_ports}) == 1,
          f"want the cluster port over TCP and UDP (heartbeats) on one number: {sorted(cluster_ports)}")
    if headless:
        protos = {p.get("protocol", "TCP") for p in headless["spec"]["ports"]}
        check(protos == {"TCP", "UDP"}, f"the headless Service should carry TCP and UDP (heartbeats): {protos}")
    rp = c.get("readinessProbe", {}).get("httpGet", {})
    check(rp.get("path") == "/healthz", "readinessProbe is not GET /healthz")
    check(rp.get("port") in port_names or isinstance(rp.get("port"), int), "readinessProbe port unknown")
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    check("drain" in pre, f"preStop does not drain: {pre}")
    mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    check(env.get("SKEIN_DATA") in mounts, "SKEIN_DATA is not on a mounted volume")
    grace = spec["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    check(grace > int(env.get("SKEIN_DRAIN_TIMEOUT", 60)), "terminationGracePeriodSeconds <= drain timeout")
    sc = spec["template"]["spec"].get("securityContext", {})
    check(sc.get("runAsNonRoot") is True, "pods may run as root")
    for s in services.values():
        for p in s["spec"]["ports"]:
            tp = p.get("targetPort", p["port"])
            check(isinstance(tp, int) or tp in port_names, f"Service {s['metadata']['name']} targetPort {tp} unknown")
    pdbs = by_kind.get("PodDisruptionBudget", [])
    check(len(pdbs) == 1, "want one PodDisruptionBudget")
    if pdbs:
        check(pdbs[0]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items(), "PDB selects no pod")
        check(pdbs[0]["spec"].get("maxUnavailable") == 1, "PDB should allow one node down at a time")


mode, src = sys.argv[1], sys.argv[2]
{"dockerfile": check_dockerfile, "kubernetes": check_kubernetes}[mode](src)
for f in failures:
    print("FAIL:", f)
print(f"{mode}: {'ok' if not failures else str(len(failures)) + ' failures'}")
sys.exit(1 if failures else 0)
