"""The deployment files in `deploy/` hold together: parsed and checked, since no Docker daemon
or Kubernetes cluster runs here. The commands they run are parsed by the CLI itself, the
proxy configuration they mount is loaded as the proxy loads it, and the names that tie the
pieces together (services, labels, ports, Secrets, mount paths) point at what exists."""

from pathlib import Path, PurePosixPath

import pytest
import typer
import yaml

from redline._yaml import load_yaml_model
from redline.cli import app
from redline.guard import ProxyConfig
from redline.guard._keys import find_key
from redline.guard._proxy_config import KeysFile

DEPLOY = Path(__file__).parents[2] / "deploy"
K8S = DEPLOY / "k8s"
EXAMPLE_KEY = "rl-example-key-replace-me"


def parse_command(argv: list[str]):
    """Parse a `redline ...` command line as the CLI would, without running it."""
    assert argv[0] == "redline", argv
    command = typer.main.get_command(app)
    args = argv[1:]
    while isinstance(command, typer.core.TyperGroup):
        name, args = args[0], args[1:]
        sub = command.get_command(command.make_context("redline", [name]), name)
        assert sub is not None, f"no command {name!r} in {argv}"
        command = sub
    return command.make_context(" ".join(argv[:3]), list(args))


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def proxy_config(text: str, tmp_path: Path) -> ProxyConfig:
    path = tmp_path / "proxy.yaml"
    path.write_text(text)
    return load_yaml_model(path, ProxyConfig)


# --- docker compose ---


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())


def test_compose_runs_proxy_replicas_redis_postgres_and_the_model(compose):
    services = compose["services"]
    assert {"proxy", "lb", "model", "redis", "postgres"} <= set(services)
    proxy = services["proxy"]
    assert proxy["deploy"]["replicas"] >= 2
    argv = proxy["command"]
    ctx = parse_command(argv)
    assert ctx.params["workers"] >= 2 and ctx.params["host"] == "0.0.0.0"
    env = proxy["environment"]
    assert env["REDLINE_REDIS_URL"].startswith("redis://redis:")
    assert "@postgres:5432/" in env["REDLINE_AUDIT_DB_URL"]
    assert env["REDLINE_AUDIT_DB_URL"].startswith("postgresql+psycopg://")
    assert set(proxy["depends_on"]) == {"redis", "postgres", "model"}
    assert "/readyz" in " ".join(proxy["healthcheck"]["test"])
    # the model upstream is `redline serve-model`, reachable from the proxies
    model = parse_command(services["model"]["command"])
    assert model.params["host"] == "0.0.0.0"
    # the load balancer is the one published port, and forwards to the proxies
    assert services["lb"]["ports"] == ["8080:8080"]
    assert all("ports" not in services[s] for s in ("proxy", "model", "redis", "postgres"))
    nginx = (DEPLOY / "compose" / "nginx.conf").read_text()
    assert "server proxy:8080" in nginx and "proxy_buffering off" in nginx


def test_compose_mounts_what_the_proxy_reads(compose, tmp_path):
    proxy = compose["services"]["proxy"]
    mounts = {}
    for volume in proxy["volumes"]:
        source, target, *_ = volume.split(":")
        assert (DEPLOY / source).exists(), source
        mounts[PurePosixPath(target)] = DEPLOY / source
    config_path = PurePosixPath(option(proxy["command"], "--config"))
    config = proxy_config(mounts[config_path].read_text(), tmp_path)
    model_port = option(compose["services"]["model"]["command"], "--port")
    assert config.upstream == f"http://model:{model_port}/v1"
    assert config.audit_key_env in proxy["environment"]
    # the keys file is in a mounted folder (an edited file is seen), the example beside it
    keys = PurePosixPath(str(config.keys_file))
    assert mounts[keys.parent].is_dir()
    example = load_yaml_model(mounts[keys.parent] / "keys.example.yaml", KeysFile)
    assert find_key(example.keys, EXAMPLE_KEY) is not None
    # the shutdown deadline fits in the grace period compose gives before killing
    assert config.shutdown_timeout < int(proxy["stop_grace_period"].rstrip("s"))
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert "compose/keys/keys.yaml" in ignored and ".env" in ignored


def test_compose_secrets_come_from_the_environment(compose):
    """No password or audit key is written in the file: each must be set (`:?`)."""
    text = (DEPLOY / "docker-compose.yaml").read_text()
    for name in ("POSTGRES_PASSWORD", "REDLINE_AUDIT_KEY"):
        assert f"${{{name}:?" in text
    assert compose["services"]["postgres"]["environment"]["POSTGRES_DB"] == "redline"


def test_dockerfile_builds_what_compose_and_kubernetes_run(compose):
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "\nFROM python:3.11" in dockerfile
    assert "redline guard train --out /home/redline/guard" in dockerfile
    assert compose["x-image"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert option(compose["services"]["proxy"]["command"], "--guard") == "/home/redline/guard"
    for copied in ("pyproject.toml", "README.md", "src"):
        assert (DEPLOY.parent / copied).exists()


# --- Kubernetes ---


@pytest.fixture(scope="module")
def k8s():
    """Every manifest the kustomization lists, by (kind, name)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    found = {}
    for name in sorted(listed):
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), name
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in found, key
            found[key] = doc
    return found


def test_kubernetes_has_each_piece_the_issue_names(k8s):
    kinds = {kind for kind, _ in k8s}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "Secret", "ConfigMap"} <= kinds
    hpa = k8s["HorizontalPodAutoscaler", "redline-proxy"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) in k8s
    assert 1 < hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def containers(deployment):
    return deployment["spec"]["template"]["spec"]["containers"]


def test_every_service_selects_a_deployment_on_a_named_port(k8s):
    services = [doc for (kind, _), doc in k8s.items() if kind == "Service"]
    assert len(services) == 3
    for service in services:
        selector = service["spec"]["selector"]
        matches = [
            d
            for (kind, _), d in k8s.items()
            if kind == "Deployment"
            and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matches) == 1, service["metadata"]["name"]
        deployment = matches[0]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= selector.items()
        ports = {p["name"] for c in containers(deployment) for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_the_proxy_deployment_is_ready_only_when_it_can_serve(k8s, tmp_path):
    deployment = k8s["Deployment", "redline-proxy"]
    (proxy,) = containers(deployment)
    ctx = parse_command(proxy["args"])
    assert ctx.params["workers"] >= 2 and ctx.params["host"] == "0.0.0.0"
    assert proxy["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert proxy["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {p["containerPort"] for p in proxy["ports"]} == {ctx.params["port"]}

    # the ConfigMap is the config file, the Secret the keys file, each mounted as a folder
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {}
    for mount in proxy["volumeMounts"]:
        assert "subPath" not in mount  # a subPath mount never sees an updated ConfigMap/Secret
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            source = k8s["ConfigMap", volume["configMap"]["name"]]["data"]
        else:
            source = k8s["Secret", volume["secret"]["secretName"]]["stringData"]
        mounts[PurePosixPath(mount["mountPath"])] = source
    config_path = PurePosixPath(option(proxy["args"], "--config"))
    config = proxy_config(mounts[config_path.parent][config_path.name], tmp_path)
    keys_path = PurePosixPath(str(config.keys_file))
    (tmp_path / "keys.yaml").write_text(mounts[keys_path.parent][keys_path.name])
    keys = load_yaml_model(tmp_path / "keys.yaml", KeysFile).keys
    assert find_key(keys, EXAMPLE_KEY) is not None

    # the upstream is the model's Service; Redis's is named in the environment
    assert config.upstream == "http://redline-model:8081/v1"
    assert ("Service", "redline-model") in k8s
    env = {e["name"]: e for e in proxy["env"]}
    assert env["REDLINE_REDIS_URL"]["value"] == "redis://redline-redis:6379/0"
    secrets = k8s["Secret", "redline-secrets"]["stringData"]
    for name in ("REDLINE_AUDIT_KEY", "REDLINE_AUDIT_DB_URL"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "redline-secrets" and ref["key"] in secrets
    assert config.audit_key_env == "REDLINE_AUDIT_KEY"
    assert len(secrets["REDLINE_AUDIT_KEY"]) >= 16
    assert secrets["REDLINE_AUDIT_DB_URL"].startswith("postgresql+psycopg://")

    # Kubernetes waits past the preStop pause and the proxy's own shutdown deadline
    pre_stop = proxy["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    deadline = int(pre_stop[1]) + config.shutdown_timeout
    assert pod["terminationGracePeriodSeconds"] > deadline
