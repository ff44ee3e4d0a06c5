"""deploy/k8s: every document parses, every Deployment probes paths its service really serves, has
resources and is scraped on its metrics port, and no consumer can scale past its topics' partitions."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.runtime.settings import REPO_ROOT, Settings
from shared.runtime.topics_admin import with_dead_letters

K8S = REPO_ROOT / "deploy" / "k8s"
CONSUMERS = ("ingest", "denials", "auths", "queues")
SERVICES = (*CONSUMERS, "gateway")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@cache
def manifests() -> list[dict[str, Any]]:
    """Every resource kustomization.yaml applies."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"] for doc in documents(K8S / name)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == kind}


def config() -> dict[str, str]:
    return dict(of_kind("ConfigMap")["claimline-config"]["data"])


@cache
def runtime(service: str) -> Any:
    return importlib.import_module(f"services.{service}.main").bootstrap(Settings())


def served_paths(service: str) -> set[str]:
    """The paths the service's HTTP app answers, read from the app itself."""
    if service == "gateway":
        from services.queues.gateway.app import create_app

        return {path for route in create_app(Settings()).routes if (path := getattr(route, "path", None))}
    app = importlib.import_module(f"services.{service}.main").create_app(Settings())
    return {path for path, _ in app.routes}


def consumer_groups(service: str) -> dict[str, list[str]]:
    return {sub.group_id: list(sub.topic_names) for sub in runtime(service).broker.subscribers}


def declared_partitions() -> dict[str, int]:
    return {doc["spec"]["topicName"]: doc["spec"]["partitions"] for doc in of_kind("KafkaTopic").values()}


def container(service: str) -> dict[str, Any]:
    (only,) = of_kind("Deployment")[service]["spec"]["template"]["spec"]["containers"]
    return dict(only)


def test_every_file_parses_and_every_resource_is_named_in_the_claimline_namespace():
    files = sorted(K8S.glob("*.yaml"))
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    applied = set(kustomization["resources"])
    assert {f.name for f in files} - applied == {"kustomization.yaml", "secrets.example.yaml"}
    for path in files:
        if path.name == "kustomization.yaml":
            continue
        for doc in documents(path):
            assert doc["apiVersion"] and doc["kind"], path
            assert doc["metadata"]["name"], path
    for doc in manifests():
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "claimline", doc["metadata"]["name"]


def test_one_deployment_and_one_service_per_process():
    assert set(of_kind("Deployment")) == set(SERVICES)
    assert set(of_kind("Service")) == set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_the_deployment_runs_its_service_on_the_port_it_probes_and_exposes(service):
    c = container(service)
    assert c["command"][:3] == ["claimline", "run", service]
    port = int(c["command"][c["command"].index("--port") + 1])
    assert c["ports"] == [{"name": "http", "containerPort": port}]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["port"] == "http", probe
    annotations = of_kind("Deployment")[service]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    svc = of_kind("Service")[service]["spec"]
    assert svc["ports"][0]["targetPort"] == "http"
    pod_labels = of_kind("Deployment")[service]["spec"]["template"]["metadata"]["labels"]
    assert svc["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("service", SERVICES)
def test_probes_and_scrapes_point_at_paths_the_service_really_serves(service):
    c = container(service)
    paths = served_paths(service)
    assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["path"] in paths, probe
    annotations = of_kind("Deployment")[service]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] in paths


@pytest.mark.parametrize("service", SERVICES)
def test_every_container_has_requests_and_limits_and_a_shutdown_grace_longer_than_the_services(service):
    resources = container(service)["resources"]
    for bound in ("requests", "limits"):
        assert set(resources[bound]) == {"cpu", "memory"}, bound
    pod = of_kind("Deployment")[service]["spec"]["template"]["spec"]
    relay_stop_seconds = 10  # ServiceRuntime.stop_background waits this long for the outbox relay
    assert pod["terminationGracePeriodSeconds"] > float(config()["CLAIMLINE_SHUTDOWN_GRACE_SECONDS"]) + (
        relay_stop_seconds
    )


@pytest.mark.parametrize("service", CONSUMERS)
def test_each_consumer_scales_on_the_lag_of_its_real_consumer_groups(service):
    scaled = of_kind("ScaledObject")[service]["spec"]
    assert scaled["scaleTargetRef"]["name"] == service
    assert scaled["minReplicaCount"] >= 1  # the replicas also relay the outbox: never scale to zero
    groups = consumer_groups(service)
    triggers = scaled["triggers"]
    assert triggers
    for trigger in triggers:
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert meta["consumerGroup"] in groups, meta["consumerGroup"]
        assert groups[meta["consumerGroup"]] == [meta["topic"]]
        assert meta["bootstrapServers"] == config()["KAFKA_BOOTSTRAP_SERVERS"]
        assert trigger["authenticationRef"]["name"] in of_kind("TriggerAuthentication")
    assert {t["metadata"]["consumerGroup"] for t in triggers} == set(groups), "a group without a trigger"


@pytest.mark.parametrize("service", CONSUMERS)
def test_no_consumer_scales_past_the_partitions_of_the_topics_it_reads(service):
    partitions = declared_partitions()
    max_replicas = of_kind("ScaledObject")[service]["spec"]["maxReplicaCount"]
    for group, topics in consumer_groups(service).items():
        for topic in topics:
            assert topic in partitions, f"{topic} ({group}) is not declared in topics.yaml"
            assert max_replicas <= partitions[topic], (
                f"{service}: {max_replicas} > {topic} {partitions[topic]}"
            )


def test_every_topic_a_service_creates_is_declared_with_the_partitions_the_services_would_use():
    declared = declared_partitions()
    created = {t for service in CONSUMERS for t in with_dead_letters(runtime(service).topics)}
    assert created <= set(declared), sorted(created - set(declared))
    assert set(declared.values()) == {int(config()["CLAIMLINE_TOPIC_PARTITIONS"])}
    replicas = {doc["spec"]["replicas"] for doc in of_kind("KafkaTopic").values()}
    assert replicas == {int(config()["CLAIMLINE_TOPIC_REPLICATION"])}


def test_the_gateway_scales_on_cpu_and_keeps_one_replica_through_disruptions():
    hpa = of_kind("HorizontalPodAutoscaler")["gateway"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert hpa["minReplicas"] >= 2
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert of_kind("PodDisruptionBudget")["gateway"]["spec"]["minAvailable"] >= 1


def test_network_policies_let_prometheus_scrape_every_process_and_only_the_gateway_take_requests():
    policies = of_kind("NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    scrape_ports = {
        p["port"] for rule in policies["prometheus-scrape"]["spec"]["ingress"] for p in rule["ports"]
    }
    for service in SERVICES:
        port = container(service)["ports"][0]["containerPort"]
        assert port in scrape_ports, service
    open_to_all = [
        name
        for name, policy in policies.items()
        for rule in policy["spec"].get("ingress", [])
        if "from" not in rule
    ]
    assert open_to_all == ["gateway-http"]
    assert policies["gateway-http"]["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "gateway"
    }
    assert [p["port"] for p in policies["gateway-http"]["spec"]["ingress"][0]["ports"]] == [
        container("gateway")["ports"][0]["containerPort"]
    ]


def test_every_pod_mounts_the_secrets_and_certificates_the_config_names():
    cfg = config()
    for service in SERVICES:
        c = container(service)
        refs = {next(iter(ref.values()))["name"] for ref in c["envFrom"]}
        assert refs == {"claimline-config", "claimline-secrets"}
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert str(Path(cfg["KAFKA_SSL_CAFILE"]).parent) in mounts
        assert str(Path(cfg["DATABASE_SSLROOTCERT"]).parent) in mounts
    ingest_mounts = {m["mountPath"] for m in container("ingest")["volumeMounts"]}
    assert cfg["CLAIMLINE_ARCHIVE_DIR"] in ingest_mounts


def test_the_settings_in_the_config_map_are_settings_claimline_reads():
    aliases = {field.alias for field in Settings.model_fields.values()}
    assert set(config()) <= aliases, sorted(set(config()) - aliases)
    Settings(**config())  # type: ignore[arg-type]  # and every value is valid


def test_the_kustomization_lists_every_manifest_and_builds_the_whole_deployment():
    """What `kubectl kustomize deploy/k8s` checks for this kustomization (resources, one namespace, the
    image name), done here so the check needs no kubectl: every listed file exists and parses, every
    manifest in the folder is listed (only the Secrets example is left out on purpose), nothing names
    another namespace, and every container uses the `claimline` image the kustomization retags."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secrets.example.yaml"}
    assert listed == on_disk
    namespace = kustomization["namespace"]
    for doc in manifests():
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), doc
        assert doc["metadata"].get("namespace", namespace) == namespace, doc["metadata"]
    image_names = {i["name"] for i in kustomization["images"]}
    deployments = of_kind("Deployment")
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"].split(":")[0] in image_names, (name, container["image"])
