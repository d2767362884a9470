"""Jars of the local stack, resolved through Maven Central once and cached outside the repo."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from databus.stack.errors import StackError
from databus.stack.process import require_tool, run_checked

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL_DEPLOY = PROJECT_ROOT / "deploy" / "local"
KAFKA_POM = LOCAL_DEPLOY / "kafka" / "pom.xml"
APICURIO_VERSION = os.environ.get("DATABUS_APICURIO_VERSION", "3.0.9")

_COMPLETE = ".complete"
_MAVEN_HINT = (
    "install Maven (apt-get install maven) and Java 17 (apt-get install openjdk-17-jdk-headless)"
)


def java() -> str:
    """Path of `java`, or a clear error saying what to install."""
    return require_tool("java", "install Java 17 (apt-get install openjdk-17-jdk-headless)")


def kafka_libs(cache_dir: Path, log: Path) -> Path:
    """Directory with the Kafka broker, tools and logging jars (resolved on first use)."""
    digest = hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()[:12]
    target = cache_dir / f"kafka-{digest}"
    if (target / _COMPLETE).exists():
        return target / "libs"
    mvn = require_tool("mvn", _MAVEN_HINT)
    java()
    staging = Path(tempfile.mkdtemp(prefix="kafka-", dir=_ensure(cache_dir)))
    run_checked(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(KAFKA_POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging / 'libs'}",
        ],
        what="resolving the Kafka jars from Maven Central",
        log=log,
        timeout=900,
    )
    return _publish(staging, target) / "libs"


def apicurio_home(cache_dir: Path, log: Path) -> Path:
    """Unpacked Apicurio Registry app (`tar.gz:all` from Maven Central), fetched on first use."""
    target = cache_dir / f"apicurio-registry-{APICURIO_VERSION}"
    if (target / _COMPLETE).exists():
        return target / "app"
    mvn = require_tool("mvn", _MAVEN_HINT)
    java()
    staging = Path(tempfile.mkdtemp(prefix="apicurio-", dir=_ensure(cache_dir)))
    artifact = f"io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:tar.gz:all"
    run_checked(
        [
            mvn,
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact={artifact}",
            f"-DoutputDirectory={staging}",
        ],
        what=f"fetching {artifact} from Maven Central",
        log=log,
        timeout=900,
        cwd=staging,
    )
    archives = list(staging.glob("*.tar.gz"))
    if len(archives) != 1:
        raise StackError(f"expected one Apicurio archive in {staging}, found {len(archives)}")
    with tarfile.open(archives[0]) as tar:
        tar.extractall(staging / "app", filter="data")
    archives[0].unlink()
    return _publish(staging, target) / "app"


def apicurio_launch_jar(home: Path) -> Path:
    """The runnable jar of an unpacked Apicurio app (legacy runner jar or Quarkus fast-jar)."""
    candidates = sorted(home.glob("*-runner.jar")) + sorted(home.rglob("quarkus-run.jar"))
    if not candidates:
        raise StackError(f"no runnable jar (*-runner.jar or quarkus-run.jar) under {home}")
    return candidates[0]


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _publish(staging: Path, target: Path) -> Path:
    """Move a finished download into place and mark it complete, so it is fetched only once."""
    (staging / _COMPLETE).write_text("ok\n")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target
