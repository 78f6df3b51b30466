"""Chart checks: render with every ci/ values file (Helm's own Go SDK, no
cluster), lint strictly, validate every built-in object against
Kubernetes' schemas (kubernetes-validate --strict), and assert the
properties operators rely on. Prints 'N passed, N failed'."""

import pathlib
import subprocess
import sys
import tempfile

import helm_python as helm
import yaml

CHART = pathlib.Path(__file__).resolve().parents[1] / "subscription-mesh"
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
        assert {"secretRef": {"name": "subscription-mesh"}} in c["envFrom"], name
        if name == "gateway":
            assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
            assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        else:
            service = {"bot-service": "bot.v1.BotService", "billing-service": "billing.v1.BillingService"}[name]
            assert c["readinessProbe"]["grpc"]["service"] == service, name
            assert c["livenessProbe"]["grpc"]["service"] == "liveness", name
    assert not of(docs, "Secret"), "secrets never come from values"


def config_properties(docs):
    (cm,) = of(docs, "ConfigMap")
    assert "[[plans]]" in cm["data"]["plans.toml"]
    assert cm["data"]["BOT_SERVICE_URL"] == "http://demo-subscription-mesh-bot-service:50051"
    assert cm["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://")
    (cron,) = of(docs, "CronJob")
    job = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert job["args"] == ["reconcile"]
    assert {"secretRef": {"name": "subscription-mesh"}} in job["envFrom"], "reconcile carries billing's tokens"


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
    assert gw["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress-nginx"}
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


def schema_rejects_typos():
    chart = helm.Chart.load(CHART)
    for bad in ({"componnets": {}}, {"components": {"gateway": {"prot": 1}}}, {"config": {"logFormat": "xml"}}):
        try:
            chart.validate_schema(bad)
        except helm.HelmError:
            continue
        raise AssertionError(f"schema accepted {bad}")
    chart.validate_schema({"components": {"gateway": {"port": 8080}}})


for values_file in sorted((CHART / "ci").glob("*.yaml")):
    label = values_file.stem
    values, docs = render(values_file)
    check(f"{label}: lint", lambda: lint(values))
    check(f"{label}: validate --strict", lambda: validate(docs))
    check(f"{label}: deployments", lambda: deployment_properties(docs))
    check(f"{label}: config and cronjob", lambda: config_properties(docs))
    if label.startswith("hpa"):
        check(f"{label}: hpa, pdb, ingress", lambda: hpa_properties(docs))
    if label.startswith("networkpolicy"):
        check(f"{label}: network policies", lambda: networkpolicy_properties(docs))
    if label.startswith("servicemonitor"):
        check(f"{label}: service monitors", lambda: servicemonitor_properties(docs))
check("schema rejects unknown keys", schema_rejects_typos)

failed = [(n, e) for n, e in results if e]
for n, e in results:
    print(f"{'FAIL' if e else 'ok  '} {n}" + (f"\n     {e}" if e else ""))
print(f"chart: {len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
