"""Chart checks: render with every ci/ values file (Helm's own Go SDK, no
cluster), lint strictly, validate every built-in object against
Kubernetes' schemas (kubernetes-validate --strict), assert the properties
operators rely on, refuse what must not render, and check the dashboard
and the alert rules (promtool check and unit tests when promtool is
available). Prints 'N passed, N failed'."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import helm_python as helm
import yaml

HERE = pathlib.Path(__file__).resolve().parent
CHART = HERE.parents[0] / "subscription-mesh"
REPO = HERE.parents[2]
PROMTOOL = os.environ.get("PROMTOOL") or shutil.which("promtool")
BUILTIN = {"ConfigMap", "Deployment", "Service", "Ingress", "NetworkPolicy",
           "HorizontalPodAutoscaler", "PodDisruptionBudget", "CronJob"}
results = []


def check(name, fn):
    try:
        fn()
        results.append((name, None))
    except Exception as e:  # a failed check is reported, the rest still run
        results.append((name, f"{type(e).__name__}: {e}"))


def render(values_file):
    values = yaml.safe_load(values_file.read_text()) or {}
    chart = helm.Chart.load(CHART)
    out = chart.render(values, name="demo", namespace="bots", is_install=True)
    docs = []
    for path, text in out.items():
        if path.endswith(".yaml"):
            docs += [d for d in yaml.safe_load_all(text) if d]
    return values, docs


def lint(values):
    report = helm.lint(CHART, values, strict=True)
    problems = report["errors"] + [m["error"] for m in report["messages"] if m["severity"] >= 2]
    assert not problems, problems


def of(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def validate(docs):
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, d in enumerate(d for d in docs if d["kind"] in BUILTIN):
            f = pathlib.Path(tmp) / f"{i}.yaml"
            f.write_text(yaml.safe_dump(d))
            files.append(str(f))
        r = subprocess.run([sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", *files],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def deployment_properties(docs):
    deployments = of(docs, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {
        "demo-subscription-mesh-gateway", "demo-subscription-mesh-bot-service", "demo-subscription-mesh-billing-service"}
    for d in deployments:
        pod = d["spec"]["template"]["spec"]
        name = d["metadata"]["labels"]["app.kubernetes.io/component"]
        assert pod["automountServiceAccountToken"] is False, name
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["seccompProfile"]["type"] == "RuntimeDefault", name
        c = pod["containers"][0]
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
        assert sc["capabilities"]["drop"] == ["ALL"], name
        assert "checksum/config" in d["spec"]["template"]["metadata"]["annotations"], name
        assert pod["terminationGracePeriodSeconds"] >= 30, name
        assert c["args"] == [name], name
        assert all("secretRef" not in e for e in c["envFrom"]), "credentials one by one, not whole Secrets"
        names = [e["name"] for e in c["env"]]
        assert len(names) == len(set(names)), f"{name}: a variable twice in {names}"
        secret_vars = {e["name"] for e in c["env"] if "secretKeyRef" in e.get("valueFrom", {})}
        assert secret_vars <= {"REDIS_URL"} | CREDENTIALS[name], (name, secret_vars)
        if name == "gateway":
            assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
            assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        elif "grpc" in c["readinessProbe"]:
            service = {"bot-service": "bot.v1.BotService", "billing-service": "billing.v1.BillingService"}[name]
            assert c["readinessProbe"]["grpc"]["service"] == service, name
            assert c["livenessProbe"]["grpc"]["service"] == "liveness", name
    assert not of(docs, "Secret"), "secrets never come from values"


# The credentials each component may see (least privilege).
CREDENTIALS = {
    "gateway": {"TELEGRAM_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET", "BILLING_API_TOKEN", "BOT_API_TOKEN"},
    "bot-service": {"TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "BOT_API_TOKEN", "BILLING_API_TOKEN",
                    "BILLING_ADMIN_TOKEN"},
    "billing-service": {"STRIPE_SECRET_KEY", "TELEGRAM_BOT_TOKEN", "BILLING_API_TOKEN", "BILLING_ADMIN_TOKEN",
                        "BOT_API_TOKEN"},
}


def container(docs, component):
    (d,) = [d for d in of(docs, "Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] == component]
    return d["spec"]["template"]["spec"], d["spec"]["template"]["spec"]["containers"][0]


def env_of(c):
    return {e["name"]: e for e in c["env"]}


def default_properties(docs):
    for component, creds in CREDENTIALS.items():
        _, c = container(docs, component)
        env = env_of(c)
        ref = env["REDIS_URL"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "subscription-mesh", "key": "REDIS_URL"}, "Redis is required, from the Secret"
        for var in creds:
            ref = env[var]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "subscription-mesh", "key": var, "optional": True}, (component, var, ref)
        assert env["OTEL_SERVICE_NAME"]["value"] == component
    assert not of(docs, "PrometheusRule") and not [c for c in of(docs, "ConfigMap") if "dashboard" in c["metadata"]["name"]]


def config_properties(docs):
    (cm,) = [c for c in of(docs, "ConfigMap") if c["metadata"]["name"] == "demo-subscription-mesh"]
    assert "[[plans]]" in cm["data"]["plans.toml"]
    assert cm["data"]["BOT_SERVICE_URL"].endswith("://demo-subscription-mesh-bot-service:50051")
    assert cm["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://")
    (cron,) = of(docs, "CronJob")
    job = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert job["args"] == ["reconcile"]
    env = env_of(job)
    assert "secretKeyRef" in env["BILLING_ADMIN_TOKEN"]["valueFrom"], "reconcile carries billing's tokens"
    assert "REDIS_URL" not in env and "STRIPE_SECRET_KEY" not in env, "and nothing else"


def hpa_properties(docs):
    hpas = of(docs, "HorizontalPodAutoscaler")
    assert len(hpas) == 3 and all(h["apiVersion"] == "autoscaling/v2" for h in hpas)
    assert len(of(docs, "PodDisruptionBudget")) == 3
    assert all("replicas" not in d["spec"] for d in of(docs, "Deployment")), "the HPA owns replicas"
    (ing,) = of(docs, "Ingress")
    backends = {p["backend"]["service"]["name"] for r in ing["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"demo-subscription-mesh-gateway"}, "only the gateway is exposed"


def networkpolicy_properties(docs):
    policies = {p["metadata"]["name"]: p for p in of(docs, "NetworkPolicy")}
    assert set(policies) == {"demo-subscription-mesh-gateway", "demo-subscription-mesh-bot-service",
                             "demo-subscription-mesh-billing-service"}
    gw = policies["demo-subscription-mesh-gateway"]["spec"]["ingress"][0]
    assert gw["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
                           "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}}], gw
    prometheus = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                  "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
    for name, policy in policies.items():
        metrics = policy["spec"]["ingress"][1]
        assert metrics["from"] == [{"podSelector": {}}, prometheus], (name, metrics)
    (cm,) = [c for c in of(docs, "ConfigMap") if c["metadata"]["name"] == "demo-subscription-mesh"]
    assert cm["data"]["TRUSTED_PROXIES"] == "10.0.0.0/8"
    assert cm["data"]["TELEGRAM_ALLOWED_SOURCES"] == "149.154.160.0/20,91.108.4.0/22"
    for svc, peer in (("bot-service", "billing-service"), ("billing-service", "bot-service")):
        rule = policies[f"demo-subscription-mesh-{svc}"]["spec"]["ingress"][0]
        sources = [f["podSelector"]["matchLabels"] for f in rule["from"]]
        components = {s.get("app.kubernetes.io/component") for s in sources}
        assert components == {"gateway", peer, None}, (svc, sources)
        assert {"subscription-mesh/client": "true"} in sources, svc
        assert "namespaceSelector" not in str(rule), "no outside traffic to gRPC"
    (cron,) = of(docs, "CronJob")
    labels = cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels.get("subscription-mesh/client") == "true", "reconcile may reach billing"


def servicemonitor_properties(docs):
    monitors = of(docs, "ServiceMonitor")
    assert len(monitors) == 3
    for m in monitors:
        assert m["spec"]["endpoints"][0]["port"] == "metrics" and m["metadata"]["labels"]["release"] == "prometheus"


def tls_properties(docs):
    (cm,) = [c for c in of(docs, "ConfigMap") if c["metadata"]["name"] == "demo-subscription-mesh"]
    assert cm["data"]["BOT_SERVICE_URL"] == "https://demo-subscription-mesh-bot-service:50051"
    assert cm["data"]["BILLING_SERVICE_URL"] == "https://demo-subscription-mesh-billing-service:50052"
    assert cm["data"]["BOT_WORKERS"] == "64" and cm["data"]["RUST_LOG"] == "info,gateway=debug", "extraEnv overrides"
    for component in CREDENTIALS:
        pod, c = container(docs, component)
        env = env_of(c)
        assert env["GRPC_TLS_CERT"]["value"] == "/etc/mesh/tls/tls.crt"
        assert env["GRPC_TLS_KEY"]["value"] == "/etc/mesh/tls/tls.key"
        assert env["GRPC_TLS_CA"]["value"] == "/etc/mesh/tls/ca.crt"
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["grpc-tls"]["secret"]["secretName"] == "mesh-grpc-tls"
        assert volumes["scratch"] == {"name": "scratch", "emptyDir": {}}, "extraVolumes"
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        assert mounts["grpc-tls"] == "/etc/mesh/tls" and mounts["scratch"] == "/scratch"
        assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "redis-credentials", "key": "url"}
        if component != "gateway":
            for probe in ("readinessProbe", "livenessProbe"):
                assert c[probe]["httpGet"]["port"] == "metrics", "gRPC probes can't speak TLS"
    _, billing = container(docs, "billing-service")
    env = env_of(billing)
    assert env["STRIPE_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "stripe-live"
    assert env["STRIPE_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "secret-key"
    assert env["STRIPE_TIMEOUT_MS"]["value"] == "8000"
    assert env["OTEL_SERVICE_NAME"]["value"] == "billing", "a component's extraEnv overrides the chart"
    (cron,) = of(docs, "CronJob")
    job = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert env_of(job["containers"][0])["GRPC_TLS_CA"]["value"] == "/etc/mesh/tls/ca.crt"
    assert job["volumes"][0]["secret"]["secretName"] == "mesh-grpc-tls"


def memory_properties(docs):
    for component in CREDENTIALS:
        _, c = container(docs, component)
        assert "REDIS_URL" not in env_of(c)


def refusals():
    """Values that must not render, each with its reason in the error."""
    chart = helm.Chart.load(CHART)
    cases = [
        ({"redis": {"source": "none"}}, "exactly one replica"),
        ({"redis": {"source": "none"}, "components": {"default": {"replicas": 1},
                                                       "botService": {"autoscaling": {"enabled": True}}}},
         "bot-service needs exactly one replica"),
        ({"redis": {"source": "url"}}, "redis.url is empty"),
        ({"config": {"extraEnv": {"REDIS_URL": "redis://x"}}}, "REDIS_URL"),
        ({"components": {"gateway": {"extraEnv": {"TELEGRAM_WEBHOOK_SECRET": "x"}}}}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"config": {"extraEnv": {"GATEWAY_ADDR": "0.0.0.0:1"}}}, "components.<name>.extraEnv"),
        ({"grpcTls": {"enabled": True}}, "secretName"),
        ({"config": {"extraEnv": {"lower-case": "x"}}}, "lower-case"),
    ]
    for values, reason in cases:
        try:
            chart.render(values, name="demo", namespace="bots", is_install=True)
        except helm.HelmError as e:
            assert reason in str(e), (values, str(e))
            continue
        raise AssertionError(f"rendered {values}")


def metric_names():
    """Every metric the code exports: names in its describe/record calls."""
    names = {"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"}
    pattern = re.compile(r'"((?:gateway|bot|billing|mesh|grpc|state)_[a-z0-9_]+)"')
    for path in REPO.glob("*/src/**/*.rs"):
        names |= set(pattern.findall(path.read_text()))
    return names


def exprs_use_known_metrics(exprs):
    known = metric_names()
    used = set()
    for expr in exprs:
        used |= set(re.findall(r"\b((?:gateway|bot|billing|mesh|grpc|process|state)_[a-z0-9_]+)", expr))
    unknown = {u for u in used if re.sub(r"_(bucket|sum|count)$", "", u) not in known}
    assert not unknown, f"not exported by the code: {sorted(unknown)}"
    return used


def promtool(*args, cwd):
    r = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=cwd)
    assert r.returncode == 0, r.stdout + r.stderr


def dashboard_properties(docs):
    (cm,) = [c for c in of(docs, "ConfigMap") if c["metadata"]["name"] == "demo-subscription-mesh-dashboard"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"]["grafana_folder"] == "Bots"
    dash = json.loads(cm["data"]["subscription-mesh.json"])
    assert dash["uid"] == "subscription-mesh" and dash["schemaVersion"] >= 36
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    titles = {p["title"] for p in panels}
    for wanted in ("Telegram updates", "4xx and 5xx by route", "Oldest queued item", "Outbox: paused chats",
                   "Stripe events", "Entitlements by state", "gRPC latency p99"):
        assert wanted in titles, wanted
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    assert all(exprs) and len(exprs) >= len(panels)
    exprs_use_known_metrics(exprs)
    if PROMTOOL:
        # Grafana's variables replaced, each query checked by Prometheus's
        # own parser as a recording rule.
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query{i}", "expr": e.replace("$__rate_interval", "5m").replace("$namespace", ".*")}
            for i, e in enumerate(exprs)]}]}
        with tempfile.TemporaryDirectory() as tmp:
            (pathlib.Path(tmp) / "dashboard.yaml").write_text(yaml.safe_dump(rules))
            promtool("check", "rules", "dashboard.yaml", cwd=tmp)


def rules_properties(docs):
    (rule,) = of(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {"MeshQueueOldestItemTooOld", "MeshDeadLettersGrowing", "MeshGatewayErrorRatio",
                           "MeshStripeSignatureFailures", "MeshOutboxPausedTooLong",
                           "MeshReplicaAckShortfall"}, set(alerts)
    for name, r in alerts.items():
        assert r["labels"]["severity"] in ("warning", "critical") and r["labels"]["team"] == "bots", name
        assert r["annotations"]["summary"] and r["annotations"]["description"], name
    exprs_use_known_metrics([r["expr"] for r in alerts.values()])
    if not PROMTOOL:
        print("     (promtool not found: alert rules checked for structure only)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
        shutil.copy(HERE / "rules_test.yaml", tmp)
        promtool("check", "rules", "rules.yaml", cwd=tmp)
        promtool("test", "rules", "rules_test.yaml", cwd=tmp)


def schema_rejects_typos():
    chart = helm.Chart.load(CHART)
    for bad in ({"componnets": {}}, {"components": {"gateway": {"prot": 1}}}, {"config": {"logFormat": "xml"}}):
        try:
            chart.validate_schema(bad)
        except helm.HelmError:
            continue
        raise AssertionError(f"schema accepted {bad}")
    chart.validate_schema({"components": {"gateway": {"port": 8080}}})


# The checks of each ci/ file beyond those every file gets, by file name.
PER_FILE = [
    ("default", "credentials and Redis", default_properties),
    ("tls", "TLS, secrets, extra env and volumes", tls_properties),
    ("memory", "no Redis", memory_properties),
    ("hpa", "hpa, pdb, ingress", hpa_properties),
    ("networkpolicy", "network policies", networkpolicy_properties),
    ("observability", "service monitors", servicemonitor_properties),
    ("observability", "dashboard", dashboard_properties),
    ("observability", "alert rules", rules_properties),
]

for values_file in sorted((CHART / "ci").glob("*.yaml")):
    label = values_file.stem
    values, docs = render(values_file)
    check(f"{label}: lint", lambda: lint(values))
    check(f"{label}: validate --strict", lambda: validate(docs))
    check(f"{label}: deployments", lambda: deployment_properties(docs))
    check(f"{label}: config and cronjob", lambda: config_properties(docs))
    for prefix, name, fn in PER_FILE:
        if label.startswith(prefix):
            check(f"{label}: {name}", lambda fn=fn: fn(docs))
check("schema rejects unknown keys", schema_rejects_typos)
check("refuses what must not render", refusals)

failed = [(n, e) for n, e in results if e]
for n, e in results:
    print(f"{'FAIL' if e else 'ok  '} {n}" + (f"\n     {e}" if e else ""))
print(f"chart: {len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
