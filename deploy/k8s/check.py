#!/usr/bin/env python3
"""Static checks of the replog Kubernetes manifests (no cluster needed).

    python3 deploy/k8s/check.py [DIR]

Parses every *.yaml in DIR (default: this directory) with PyYAML and checks
what `kubectl apply` would need plus replog's own wiring: required fields,
selectors that match pod labels, StatefulSets bound to headless Services,
probes on /health port 7000, a primary whose REPLOG_SECONDARIES names
exactly the secondary pods' stable DNS names, a data directory on a
volumeClaimTemplate (REPLOG_DATA_DIR mounted from it), and a cluster token that every
node reads from the Secret (secretKeyRef, never a literal value), whose
placeholder manifest stays out of the kustomization so that an apply never
overwrites a real token. Exits 1 listing every problem.
"""
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check.py: PyYAML is missing (apt-get install python3-yaml, or pip install pyyaml)")

PORT = 7000
TOKEN_ENV = "REPLOG_CLUSTER_TOKEN"
errors = []


def err(where, msg):
    errors.append(f"{where}: {msg}")


def get(doc, path, default=None):
    cur = doc
    for key in path.split("."):
        if not isinstance(cur, dict) or key not in cur:
            return default
        cur = cur[key]
    return cur


def need(doc, where, path, typ):
    value = get(doc, path)
    if not isinstance(value, typ) or (typ is not int and not value):
        err(where, f"missing or invalid {path} (want {typ.__name__})")
        return None
    return value


def check_probe(where, container, name, ports):
    probe = container.get(name)
    if not isinstance(probe, dict):
        err(where, f"container {container.get('name')!r} has no {name}")
        return
    http = probe.get("httpGet") or {}
    if http.get("path") != "/health":
        err(where, f"{name} must GET /health, has {http.get('path')!r}")
    port = http.get("port")
    if port != PORT and ports.get(port) != PORT:
        err(where, f"{name} must probe port {PORT}, has {port!r}")


def check_token(where, container, secrets):
    """The node reads REPLOG_CLUSTER_TOKEN from a key of a Secret here."""
    entries = [e for e in container.get("env") or [] if e.get("name") == TOKEN_ENV]
    if len(entries) != 1:
        err(where, f"container {container.get('name')!r} must set {TOKEN_ENV} exactly once (from a Secret)")
        return
    ref = get(entries[0], "valueFrom.secretKeyRef")
    if not isinstance(ref, dict):
        err(where, f"{TOKEN_ENV} must come from valueFrom.secretKeyRef, never a literal value")
        return
    if ref.get("optional"):
        err(where, f"{TOKEN_ENV}'s secretKeyRef must not be optional: a node must not start tokenless")
    name, key = ref.get("name"), ref.get("key")
    if name not in secrets:
        err(where, f"{TOKEN_ENV} refers to Secret {name!r}, which no manifest here defines")
        return
    doc = secrets[name][1]
    keys = set((doc.get("stringData") or {}).keys()) | set((doc.get("data") or {}).keys())
    if key not in keys:
        err(where, f"{TOKEN_ENV} refers to key {key!r} of Secret {name!r}, which has {sorted(keys)}")


def check_data_dir(where, sts, container):
    """The log lives on a volumeClaimTemplate mounted at REPLOG_DATA_DIR."""
    env = {e.get("name"): e.get("value") for e in container.get("env") or []}
    data_dir = env.get("REPLOG_DATA_DIR")
    if not data_dir:
        err(where, "REPLOG_DATA_DIR is not set: the node would keep its log in memory")
        return
    templates = {get(t, "metadata.name") for t in get(sts, "spec.volumeClaimTemplates", []) or []}
    mounts = {m.get("mountPath"): m.get("name") for m in container.get("volumeMounts") or []}
    claim = mounts.get(data_dir)
    if claim is None:
        err(where, f"nothing is mounted at REPLOG_DATA_DIR {data_dir}")
    elif claim not in templates:
        err(where, f"the volume at {data_dir} ({claim}) is not a volumeClaimTemplate")
    if env.get("REPLOG_FSYNC", "batch") not in ("batch", "never"):
        err(where, f"REPLOG_FSYNC must be batch or never, is {env.get('REPLOG_FSYNC')!r}")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    files = sorted(f for f in os.listdir(root) if f.endswith((".yaml", ".yml")))
    if not files:
        sys.exit(f"check.py: no YAML files in {root}")

    objects = []  # (file, doc)
    file_of = {}  # id(doc) -> file name
    kustomization = None
    for name in files:
        try:
            with open(os.path.join(root, name)) as fh:
                docs = [d for d in yaml.safe_load_all(fh) if d is not None]
        except yaml.YAMLError as e:
            err(name, f"invalid YAML: {e}")
            continue
        for i, doc in enumerate(docs):
            where = f"{name}#{i}"
            if not isinstance(doc, dict):
                err(where, "document is not a mapping")
                continue
            for field in ("apiVersion", "kind"):
                if not isinstance(doc.get(field), str):
                    err(where, f"missing {field}")
            if doc.get("kind") == "Kustomization":
                kustomization = (name, doc)
                continue
            meta_name = get(doc, "metadata.name")
            if not isinstance(meta_name, str) or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta_name):
                err(where, f"invalid metadata.name {meta_name!r}")
            objects.append((f"{name}:{doc.get('kind')}/{meta_name}", doc))
            file_of[id(doc)] = name

    seen = set()
    for where, doc in objects:
        key = (doc.get("kind"), get(doc, "metadata.name"))
        if key in seen:
            err(where, "duplicate object")
        seen.add(key)

    # Secrets are created by hand (their manifest holds a placeholder), so
    # their files must stay out of the kustomization; everything else in it.
    secret_files = {file_of[id(d)] for _, d in objects if d.get("kind") == "Secret"}
    if kustomization:
        kname, kdoc = kustomization
        resources = kdoc.get("resources") or []
        for r in resources:
            if not os.path.exists(os.path.join(root, r)):
                err(kname, f"resource {r} does not exist")
            if r in secret_files:
                err(kname, f"{r} holds a Secret placeholder: listing it would overwrite the real token on every apply")
        for f in files:
            if f != kname and f not in resources and f not in secret_files:
                err(kname, f"{f} is not listed in resources")

    services = {get(d, "metadata.name"): (w, d) for w, d in objects if d.get("kind") == "Service"}
    stss = {get(d, "metadata.name"): (w, d) for w, d in objects if d.get("kind") == "StatefulSet"}
    secrets = {get(d, "metadata.name"): (w, d) for w, d in objects if d.get("kind") == "Secret"}
    for where, doc in objects:
        if doc.get("kind") not in ("Service", "StatefulSet", "Secret"):
            err(where, f"unexpected kind {doc.get('kind')!r}")
    for name, (where, doc) in secrets.items():
        if doc.get("apiVersion") != "v1":
            err(where, "apiVersion must be v1")
        keys = set((doc.get("stringData") or {}).keys()) | set((doc.get("data") or {}).keys())
        if not keys:
            err(where, "the Secret holds no key")
    if not stss:
        err(root, "no StatefulSet found")

    pod_labels = {}  # sts name -> template labels
    container_ports = {}  # sts name -> {port name: number}
    for name, (where, doc) in stss.items():
        if doc.get("apiVersion") != "apps/v1":
            err(where, "apiVersion must be apps/v1")
        need(doc, where, "spec.replicas", int)
        svc_name = need(doc, where, "spec.serviceName", str)
        if svc_name:
            svc = services.get(svc_name)
            if not svc:
                err(where, f"serviceName {svc_name!r} has no Service")
            elif get(svc[1], "spec.clusterIP") != "None":
                err(where, f"serviceName {svc_name!r} is not a headless Service (clusterIP: None)")
        match = need(doc, where, "spec.selector.matchLabels", dict) or {}
        labels = need(doc, where, "spec.template.metadata.labels", dict) or {}
        pod_labels[name] = labels
        for k, v in match.items():
            if labels.get(k) != v:
                err(where, f"selector {k}={v} does not match the pod template labels")
        containers = need(doc, where, "spec.template.spec.containers", list) or []
        ports = {}
        for c in containers:
            for field in ("name", "image"):
                if not isinstance(c.get(field), str):
                    err(where, f"container without {field}")
            for p in c.get("ports") or []:
                ports[p.get("name")] = p.get("containerPort")
            if PORT not in ports.values():
                err(where, f"container {c.get('name')!r} does not expose containerPort {PORT}")
            check_probe(where, c, "readinessProbe", ports)
            check_probe(where, c, "livenessProbe", ports)
            args = c.get("args") or c.get("command") or []
            if args[:1] != ["node"] or len(args) < 2 or args[1] not in ("primary", "secondary"):
                err(where, f"container args must be ['node', 'primary'|'secondary'], are {args!r}")
            for e in c.get("env") or []:
                if not isinstance(e.get("name"), str) or ("value" in e) == ("valueFrom" in e):
                    err(where, f"env entry {e!r} needs a name and exactly one of value/valueFrom")
                elif "value" in e and not isinstance(e["value"], str):
                    err(where, f"env {e['name']} value must be a string (quote it)")
            check_token(where, c, secrets)
            check_data_dir(where, doc, c)
        container_ports[name] = ports

    for name, (where, doc) in services.items():
        if doc.get("apiVersion") != "v1":
            err(where, "apiVersion must be v1")
        selector = need(doc, where, "spec.selector", dict) or {}
        targets = [s for s, labels in pod_labels.items() if all(labels.get(k) == v for k, v in selector.items())]
        if not targets:
            err(where, f"selector {selector} matches no StatefulSet pods")
        for p in need(doc, where, "spec.ports", list) or []:
            if not isinstance(p.get("port"), int):
                err(where, "port without a number")
            target = p.get("targetPort", p.get("port"))
            for s in targets:
                if target != PORT and container_ports[s].get(target) != PORT:
                    err(where, f"targetPort {target!r} is not port {PORT} of {s}")

    # Wiring: the primary lists every secondary pod by its stable DNS name.
    primaries, secondary_hosts = [], {}
    for name, (where, doc) in stss.items():
        for c in get(doc, "spec.template.spec.containers", []) or []:
            args = c.get("args") or []
            if args[:2] == ["node", "primary"]:
                primaries.append((where, doc, c))
            if args[:2] == ["node", "secondary"]:
                for i in range(get(doc, "spec.replicas", 0)):
                    pod = f"{name}-{i}"
                    secondary_hosts[f"{pod}.{get(doc, 'spec.serviceName')}"] = pod
    if len(primaries) != 1:
        err(root, f"want exactly one primary StatefulSet, found {len(primaries)}")
    for where, doc, c in primaries:
        if get(doc, "spec.replicas") != 1:
            err(where, "the primary must have exactly 1 replica")
        env = {e.get("name"): e.get("value") for e in c.get("env") or []}
        listed = {}
        for item in filter(None, (env.get("REPLOG_SECONDARIES") or "").split(",")):
            m = re.fullmatch(r"([^=]+)=http://([^:/]+):(\d+)/?", item.strip())
            if not m:
                err(where, f"REPLOG_SECONDARIES entry {item!r} is not ID=http://HOST:PORT")
                continue
            sid, host, port = m.groups()
            listed[host] = sid
            if int(port) != PORT:
                err(where, f"secondary {sid} uses port {port}, not {PORT}")
            if host not in secondary_hosts:
                err(where, f"secondary {sid} host {host} is no secondary pod's stable DNS name")
        for host in secondary_hosts:
            if host not in listed:
                err(where, f"secondary pod {host} is missing from REPLOG_SECONDARIES")

    if errors:
        print("k8s manifests: FAILED", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        sys.exit(1)
    print(f"k8s manifests: OK ({len(objects)} objects in {len(files)} files)")


if __name__ == "__main__":
    main()
