"""deploy/terraform applied to moto's AWS emulator on loopback, then read back.

moto serves the subnets and security groups, the bucket (policy, lifecycle, CORS...),
the queues, the secrets, ECR, IAM, the target group and the ECS task definitions and
services: those are applied for real and read back with boto3. Some resources it does
not settle: application autoscaling targets and SQS redrive-allow policies hang in the
provider's wait loop, and the RDS instance is created but then "not found" by the
provider's lookup. Those (and the ALB with its listeners, which only the plan needs) are
checked in the plan that follows the apply (`terraform plan -out` + `terraform show
-json`), where every value they take from applied resources is known.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "deploy" / "terraform"
PLUGIN_DIR = Path("/opt/tf-plugins")
SERVICES = ("web", "worker-bulk", "worker-predict", "sweeper")

pytestmark = pytest.mark.skipif(
    shutil.which("terraform") is None, reason="terraform is not installed"
)

# The emulator's endpoints, written next to a copy of the configuration as an override
# file: the module itself has no test switch.
OVERRIDE = """
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true
  endpoints {
%s
  }
}
"""
ENDPOINTS = [
    "acm",
    "applicationautoscaling",
    "cloudwatch",
    "cloudwatchlogs",
    "ec2",
    "ecr",
    "ecs",
    "elbv2",
    "iam",
    "rds",
    "s3",
    "secretsmanager",
    "sqs",
    "sts",
]
# Applied for real; everything they depend on comes along.
APPLY_TARGETS = [
    "module.storage",
    "module.queues.aws_sqs_queue.main",
    "module.database.aws_secretsmanager_secret.database_url",
    "module.cluster",
    "aws_ecs_task_definition.release",
    *[f'module.service["{name}"].aws_ecs_service.this' for name in SERVICES],
    *[f'module.service["{name}"].aws_iam_role_policy.task' for name in SERVICES],
]


def _tf(workdir: Path, *args: str, timeout: int = 600) -> str:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"}
    env.pop("TF_LOG", None)
    result = subprocess.run(
        ["terraform", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"terraform {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


class Deployed:
    def __init__(self, *, workdir: Path, endpoint: str, environment: str, plan: dict) -> None:
        self.workdir = workdir
        self.endpoint = endpoint
        self.environment = environment
        self.plan = plan
        # A targeted apply leaves some outputs unset; the full plan knows them all.
        self.outputs = {
            k: v["value"] for k, v in plan["planned_values"]["outputs"].items() if "value" in v
        }

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def planned(self, address: str) -> dict:
        for change in self.plan["resource_changes"]:
            if change["address"] == address:
                return change["change"]["after"]
        raise AssertionError(f"{address} is not in the plan")

    def task_definition(self, service: str) -> dict:
        ecs = self.client("ecs")
        described = ecs.describe_services(cluster=self.outputs["cluster_name"], services=[service])[
            "services"
        ][0]
        return ecs.describe_task_definition(taskDefinition=described["taskDefinition"])[
            "taskDefinition"
        ]


@pytest.fixture(scope="module")
def deployed(moto_url, tmp_path_factory) -> Deployed:
    workdir = tmp_path_factory.mktemp("terraform")
    shutil.copytree(
        TERRAFORM_DIR, workdir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".terraform*")
    )
    (workdir / "emulator_override.tf").write_text(
        OVERRIDE % "\n".join(f'    {name} = "{moto_url}"' for name in ENDPOINTS)
    )
    environment = f"t{uuid.uuid4().hex[:6]}"
    acm = boto3.client(
        "acm",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    certificate = acm.request_certificate(DomainName="classifier.example.com")["CertificateArn"]
    variables = [
        f"-var=environment={environment}",
        "-var=domain_name=classifier.example.com",
        f"-var=certificate_arn={certificate}",
        "-var=web_image_tag=web-1",
        "-var=worker_image_tag=worker-1",
        "-var=deletion_protection=false",
        "-var=secret_recovery_days=0",
        "-var=bucket_force_destroy=true",
    ]
    init_args = ["init", "-input=false", "-no-color", f"-plugin-dir={PLUGIN_DIR}"]
    _tf(workdir, *init_args)
    _tf(
        workdir,
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-parallelism=30",
        *variables,
        *[f"-target={t}" for t in APPLY_TARGETS],
    )
    _tf(workdir, "plan", "-input=false", "-no-color", "-out=rest.tfplan", *variables)
    plan = json.loads(_tf(workdir, "show", "-json", "rest.tfplan"))
    return Deployed(workdir=workdir, endpoint=moto_url, environment=environment, plan=plan)


def test_queues_have_the_names_the_app_computes_with_redrive(deployed):
    sqs = deployed.client("sqs")
    namespace = f"classifier-{deployed.environment}"
    assert deployed.outputs["sqs_namespace"] == namespace
    urls = sqs.list_queues(QueueNamePrefix=namespace)["QueueUrls"]
    names = sorted(url.rsplit("/", 1)[1] for url in urls)
    # dramatiq-sqs: "<namespace>_<queue>" and "<namespace>_<queue>_dlq"
    assert names == sorted(
        f"{namespace}_{q}{suffix}"
        for q in ("inference", "predict", "default")
        for suffix in ("", "_dlq")
    )
    for queue in ("inference", "predict", "default"):
        url = sqs.get_queue_url(QueueName=f"{namespace}_{queue}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        dlq_url = sqs.get_queue_url(QueueName=f"{namespace}_{queue}_dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq_arn
        assert int(redrive["maxReceiveCount"]) == 3
        assert attributes["VisibilityTimeout"] == "2100"  # JOB_TIME_LIMIT 1800 + 300
        assert attributes["SqsManagedSseEnabled"] == "true"
        allow = json.loads(
            deployed.planned(f'module.queues.aws_sqs_queue_redrive_allow_policy.dlq["{queue}"]')[
                "redrive_allow_policy"
            ]
        )
        assert allow == {
            "redrivePermission": "byQueue",
            "sourceQueueArns": [attributes["QueueArn"]],
        }


def test_bucket_is_private_encrypted_and_expires_unfinished_uploads(deployed):
    s3 = deployed.client("s3")
    bucket = deployed.outputs["bucket_name"]
    assert bucket == f"classifier-{deployed.environment}-media-123456789012"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["expire-unfinished-uploads"]["Filter"] == {"Prefix": "incoming/"}
    assert rules["expire-unfinished-uploads"]["Expiration"] == {"Days": 1}
    assert rules["expire-old-versions"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (cors,) = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert cors["AllowedOrigins"] == ["https://classifier.example.com"]
    assert cors["AllowedMethods"] == ["POST"]


def test_workers_scale_on_backlog_per_task_with_a_cpu_fallback(deployed):
    namespace = deployed.outputs["sqs_namespace"]
    cluster = deployed.outputs["cluster_name"]
    for service, queue, target in (
        ("worker-bulk", "inference", 2),
        ("worker-predict", "predict", 5),
    ):
        prefix = f'module.service["{service}"]'
        scaling_target = deployed.planned(f"{prefix}.aws_appautoscaling_target.this[0]")
        assert scaling_target["resource_id"] == f"service/{cluster}/{service}"
        assert scaling_target["min_capacity"] == 1
        policy = deployed.planned(f"{prefix}.aws_appautoscaling_policy.backlog[0]")
        config = policy["target_tracking_scaling_policy_configuration"][0]
        assert config["target_value"] == target
        metrics = {m["id"]: m for m in config["customized_metric_specification"][0]["metrics"]}
        visible = metrics["visible"]["metric_stat"][0]["metric"][0]
        assert visible["metric_name"] == "ApproximateNumberOfMessagesVisible"
        assert visible["dimensions"] == [{"name": "QueueName", "value": f"{namespace}_{queue}"}]
        running = metrics["running"]["metric_stat"][0]["metric"][0]
        assert running["metric_name"] == "RunningTaskCount"
        assert {d["name"]: d["value"] for d in running["dimensions"]} == {
            "ClusterName": cluster,
            "ServiceName": service,
        }
        assert metrics["backlog_per_task"]["expression"] == "visible / IF(running > 0, running, 1)"
        assert metrics["backlog_per_task"]["return_data"] is True
        cpu = deployed.planned(f"{prefix}.aws_appautoscaling_policy.cpu[0]")
        predefined = cpu["target_tracking_scaling_policy_configuration"][0][
            "predefined_metric_specification"
        ][0]
        assert predefined["predefined_metric_type"] == "ECSServiceAverageCPUUtilization"
    web = 'module.service["web"]'
    requests = deployed.planned(f"{web}.aws_appautoscaling_policy.requests[0]")
    spec = requests["target_tracking_scaling_policy_configuration"][0][
        "predefined_metric_specification"
    ][0]
    assert spec["predefined_metric_type"] == "ALBRequestCountPerTarget"
    # The ALB is planned, not applied, so the label is known only as its references.
    label = deployed.plan["configuration"]["root_module"]["module_calls"]["service"]["expressions"][
        "alb_resource_label"
    ]["references"]
    assert "module.load_balancer.arn_suffix" in label
    assert "module.load_balancer.target_group_arn_suffix" in label
    assert deployed.planned(f"{web}.aws_appautoscaling_target.this[0]")["min_capacity"] == 2
    # The sweeper is one task, never scaled.
    addresses = {c["address"] for c in deployed.plan["resource_changes"]}
    assert not any(a.startswith('module.service["sweeper"].aws_appautoscaling') for a in addresses)


def test_database_and_load_balancer_plan(deployed):
    db = deployed.planned("module.database.aws_db_instance.this")
    assert db["engine"] == "postgres"
    assert db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False
    assert db["deletion_protection"] is False  # as the test asked; the default is on
    https = deployed.planned("module.load_balancer.aws_lb_listener.https")
    assert (https["port"], https["protocol"]) == (443, "HTTPS")
    assert https["certificate_arn"].startswith("arn:aws:acm:us-east-1:")
    assert https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13")
    http = deployed.planned("module.load_balancer.aws_lb_listener.http")
    redirect = http["default_action"][0]["redirect"][0]
    assert (http["port"], redirect["protocol"], redirect["port"]) == (80, "HTTPS", "443")
    # The target group was applied: its health check is the shallow /livez.
    elbv2 = deployed.client("elbv2")
    (group,) = [
        g
        for g in elbv2.describe_target_groups()["TargetGroups"]
        if g["TargetGroupName"] == f"classifier-{deployed.environment}-web"
    ]
    assert group["HealthCheckPath"] == "/livez"
    assert group["TargetType"] == "ip"


def test_each_worker_serves_one_queue_and_drains_before_ecs_kills_it(deployed):
    for service, queue in (("worker-bulk", "inference"), ("worker-predict", "predict")):
        (container,) = deployed.task_definition(service)["containerDefinitions"]
        command = container["command"]
        assert command[command.index("--queues") + 1 :] == [queue]
        drain_ms = int(command[command.index("--worker-shutdown-timeout") + 1])
        assert container["stopTimeout"] == 120
        assert drain_ms < container["stopTimeout"] * 1000
        assert container["image"].endswith("-worker:worker-1")
    (web,) = deployed.task_definition("web")["containerDefinitions"]
    assert web["image"].endswith("-web:web-1")
    assert web["portMappings"][0]["containerPort"] == 8000
    release = deployed.client("ecs").describe_task_definition(
        taskDefinition=deployed.outputs["release_task_definition"]
    )["taskDefinition"]
    assert release["containerDefinitions"][0]["command"] == ["python", "manage.py", "release"]


def test_task_roles_allow_only_their_own_queues(deployed):
    iam = deployed.client("iam")
    namespace = deployed.outputs["sqs_namespace"]

    def resources(service: str) -> set[str]:
        role = deployed.task_definition(service)["taskRoleArn"].rsplit("/", 1)[1]
        document = iam.get_role_policy(RoleName=role, PolicyName="app-calls")["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        found: set[str] = set()
        for statement in document["Statement"]:
            listed = statement["Resource"]
            found.update([listed] if isinstance(listed, str) else listed)
        return {r.rsplit(":", 1)[1] for r in found if r.startswith("arn:aws:sqs")}

    assert resources("worker-bulk") == {f"{namespace}_inference", f"{namespace}_inference_dlq"}
    assert resources("worker-predict") == {f"{namespace}_predict", f"{namespace}_predict_dlq"}
    assert resources("sweeper") == {
        f"{namespace}_{q}{s}" for q in ("inference", "predict") for s in ("", "_dlq")
    }


# --- Environment cross-check --------------------------------------------------------------

# What production needs set, per process, beyond defaults that are right for it.
NEEDED_BY_ALL = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "BROKER_URL",
    "S3_BUCKET",
    "SQS_NAMESPACE",
    "AWS_REGION",
    "CACHE_BACKEND",
    "JOB_TIME_LIMIT_SECONDS",
    "SQS_VISIBILITY_TIMEOUT_SECONDS",
    "SQS_MAX_RECEIVES",
    "IMAGENET_MODEL",
}
NEEDED_BY_WEB = {"CSRF_TRUSTED_ORIGINS", "METRICS_TOKEN", "TRUSTED_PROXY_COUNT"}
# Read outside settings.py: gunicorn's own config file.
READ_BY_GUNICORN_CONF = {"WEB_CONCURRENCY"}
# Set for a setting another branch adds (hardening: the trusted-proxy count). Remove the
# entry once the settings read it; the test then holds it to the same rule as the rest.
PENDING_SETTINGS = {"TRUSTED_PROXY_COUNT"}

# Records every environment variable read while Django configures itself (settings,
# apps, the broker), then runs the deploy checks with exactly that environment.
PROBE = r"""
import json, os, sys
read = set()
original = os._Environ.__getitem__
def recording(self, key):
    read.add(key.decode() if isinstance(key, bytes) else key)
    return original(self, key)
os._Environ.__getitem__ = recording
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
call_command("check", deploy=True, fail_level="WARNING")
default = settings.STORAGES["default"]
print(json.dumps({
    "read": sorted(read),
    "broker": settings.DRAMATIQ_BROKER["BROKER"],
    "namespace": settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"],
    "visibility": settings.SQS_VISIBILITY_TIMEOUT_SECONDS,
    "max_receives": settings.SQS_MAX_RECEIVES,
    "storage": default["BACKEND"],
    "bucket": default.get("OPTIONS", {}).get("bucket_name"),
    "cache": settings.CACHES["default"]["BACKEND"],
    "metrics_token": bool(settings.METRICS_TOKEN),
}))
"""


def _settings_under(container: dict) -> dict:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": os.environ["HOME"]}
    env["DJANGO_SETTINGS_MODULE"] = "classifier_site.settings"
    env.update({e["name"]: e["value"] for e in container["environment"]})
    secrets = {
        "SECRET_KEY": "k" * 60 + "Xy7!",
        "DATABASE_URL": "postgres://classifier:pw@127.0.0.1:5432/classifier",
        "METRICS_TOKEN": "metrics-token",
    }
    for secret in container["secrets"]:
        env[secret["name"]] = secrets[secret["name"]]
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("service", [*SERVICES, "release"])
def test_task_environment_matches_what_the_settings_read(deployed, service):
    if service == "release":
        arn = deployed.outputs["release_task_definition"]
        task = deployed.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
    else:
        task = deployed.task_definition(service)
    (container,) = task["containerDefinitions"]
    set_names = {e["name"] for e in container["environment"]} | {
        s["name"] for s in container["secrets"]
    }
    needed = NEEDED_BY_ALL | (NEEDED_BY_WEB if service == "web" else set())
    assert needed - set_names == set(), "needed in production but not set"

    seen = _settings_under(container)
    extra = READ_BY_GUNICORN_CONF if service == "web" else set()
    unread = set_names - set(seen["read"]) - extra - PENDING_SETTINGS
    assert unread == set(), "set by the task definition but read by nothing"

    namespace = deployed.outputs["sqs_namespace"]
    assert seen["broker"] == "classifier_site.broker.RedrivingSQSBroker"
    assert seen["namespace"] == namespace
    assert seen["visibility"] == 2100
    assert seen["max_receives"] == 3
    assert seen["storage"] == "storages.backends.s3.S3Storage"
    assert seen["bucket"] == deployed.outputs["bucket_name"]
    assert seen["cache"] == "django.core.cache.backends.db.DatabaseCache"
    assert seen["metrics_token"] is (service == "web")
    secret_sources = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert all(v.startswith("arn:aws:secretsmanager:") for v in secret_sources.values())
