"""The native local stack: Apache Kafka (KRaft) from Maven Central jars and PostgreSQL from Debian.

`claimline stack up` is idempotent: a component that already answers is left alone. Everything it
starts is recorded by pid under the state directory and stopped by that pid, never by name.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOY_KAFKA = REPO_ROOT / "deploy" / "kafka"

DEFAULT_KAFKA_VERSION = "4.4.0"
DB_USER = "claimline"
DB_PASSWORD = "claimline"  # noqa: S105 - local development stack on loopback only
DB_NAME = "claimline"


class StackError(RuntimeError):
    """A component could not be started; the message names it and its log."""


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    cache_dir: Path
    kafka_version: str
    kafka_port: int
    kafka_controller_port: int
    pg_port: int

    @classmethod
    def from_env(cls) -> StackConfig:
        cache = Path(os.environ.get("CLAIMLINE_CACHE_DIR", REPO_ROOT / ".cache"))
        return cls(
            state_dir=Path(os.environ.get("CLAIMLINE_STACK_DIR", cache / "stack")),
            cache_dir=cache,
            kafka_version=os.environ.get("CLAIMLINE_KAFKA_VERSION", DEFAULT_KAFKA_VERSION),
            kafka_port=int(os.environ.get("CLAIMLINE_KAFKA_PORT", "19092")),
            kafka_controller_port=int(os.environ.get("CLAIMLINE_KAFKA_CONTROLLER_PORT", "19093")),
            pg_port=int(os.environ.get("CLAIMLINE_PG_PORT", "55432")),
        )

    @property
    def kafka_libs(self) -> Path:
        return self.cache_dir / "kafka" / self.kafka_version / "libs"

    @property
    def kafka_dir(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def pg_dir(self) -> Path:
        """PostgreSQL's data lives here. As root the server runs as `postgres`, which must be able to
        enter every parent directory; when the checkout sits below a private directory the data goes
        to a per-checkout directory under /var/tmp instead."""
        preferred = self.state_dir / "postgres"
        if os.geteuid() != 0 or _traversable(preferred):
            return preferred
        import hashlib

        tag = hashlib.sha256(str(self.state_dir.resolve()).encode()).hexdigest()[:10]
        return Path("/var/tmp") / f"claimline-{tag}" / "postgres"  # noqa: S108 - fixed per checkout, mode-checked

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.pg_port}/{DB_NAME}"


def _say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log written)"


# ---------------------------------------------------------------- Kafka


def fetch_kafka(cfg: StackConfig) -> None:
    marker = cfg.kafka_libs / ".complete"
    if marker.exists():
        return
    if shutil.which("mvn") is None:
        raise StackError("kafka: Maven (mvn) is not installed; install it with `apt-get install maven`")
    _say(f"kafka: fetching Apache Kafka {cfg.kafka_version} jars from Maven Central into {cfg.kafka_libs}")
    cfg.kafka_libs.mkdir(parents=True, exist_ok=True)
    log = cfg.kafka_libs.parent / "maven.log"
    with log.open("w") as out:
        result = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(DEPLOY_KAFKA / "pom.xml"),
                "dependency:copy-dependencies",
                f"-Dkafka.version={cfg.kafka_version}",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={cfg.kafka_libs}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise StackError(f"kafka: Maven could not fetch the broker jars; see {log}\n{_tail(log)}")
    marker.write_text(cfg.kafka_version)


def _kafka_answers(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    return asyncio.run(probe())


def start_kafka(cfg: StackConfig, timeout: float = 90.0) -> None:
    pid_file = cfg.kafka_dir / "kafka.pid"
    log = cfg.kafka_dir / "kafka.log"
    if _pid_alive(pid_file) and _kafka_answers(cfg.bootstrap_servers):
        _say(f"kafka: already running at {cfg.bootstrap_servers}")
        return
    if _port_open(cfg.kafka_port):
        raise StackError(
            f"kafka: port {cfg.kafka_port} is taken by a process this stack did not start; "
            "set CLAIMLINE_KAFKA_PORT to another port"
        )
    fetch_kafka(cfg)
    if shutil.which("java") is None:
        raise StackError(
            "kafka: no Java runtime found; Kafka 4.x needs Java 17+ (apt-get install openjdk-17-jre)"
        )
    data = cfg.kafka_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    props = cfg.kafka_dir / "server.properties"
    template = (DEPLOY_KAFKA / "server.properties").read_text()
    props.write_text(
        template.replace("@DATA@", str(data))
        .replace("@CONTROLLER_PORT@", str(cfg.kafka_controller_port))
        .replace("@PORT@", str(cfg.kafka_port))
    )
    classpath = f"{cfg.kafka_libs}/*"
    log4j = f"-Dlog4j2.configurationFile={DEPLOY_KAFKA / 'log4j2.properties'}"
    if not (data / "kraft-combined-logs" / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        fmt_log = cfg.kafka_dir / "format.log"
        with fmt_log.open("w") as out:
            result = subprocess.run(
                [
                    "java",
                    "-Xmx256m",
                    log4j,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "--ignore-formatted",
                    "-t",
                    cluster_id,
                    "-c",
                    str(props),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            raise StackError(f"kafka: formatting KRaft storage failed; see {fmt_log}\n{_tail(fmt_log)}")
    heap = os.environ.get("CLAIMLINE_KAFKA_HEAP", "-Xms512m -Xmx1g").split()
    jvm = [
        *heap,
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        log4j,
        f"-Dkafka.logs.dir={cfg.kafka_dir}",
    ]
    _say(f"kafka: starting Apache Kafka {cfg.kafka_version} (KRaft) on {cfg.bootstrap_servers}")
    with log.open("ab") as out:
        proc = subprocess.Popen(
            ["java", *jvm, "-cp", classpath, "kafka.Kafka", str(props)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file.write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"kafka: the broker exited with code {proc.returncode}; see {log}\n{_tail(log)}")
        if _port_open(cfg.kafka_port) and _kafka_answers(cfg.bootstrap_servers):
            _say(f"kafka: answering at {cfg.bootstrap_servers} (pid {proc.pid})")
            return
        time.sleep(0.5)
    raise StackError(
        f"kafka: no answer at {cfg.bootstrap_servers} within {timeout:.0f}s; see {log}\n{_tail(log)}"
    )


def stop_kafka(cfg: StackConfig, timeout: float = 30.0) -> None:
    pid_file = cfg.kafka_dir / "kafka.pid"
    pid = _pid_alive(pid_file)
    if pid is None:
        _say("kafka: not running")
        pid_file.unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid_file):
        time.sleep(0.3)
    if _pid_alive(pid_file):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    _say(f"kafka: stopped (pid {pid})")


# ---------------------------------------------------------------- PostgreSQL


def _pg_bin() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*/bin/pg_ctl")), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


def install_postgres() -> Path:
    found = _pg_bin()
    if found:
        return found
    if os.geteuid() != 0:
        raise StackError(
            "postgres: not installed and not running as root; run `sudo apt-get install postgresql`"
        )
    _say("postgres: installing PostgreSQL from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(
                f"postgres: `{' '.join(cmd)}` failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
    found = _pg_bin()
    if not found:
        raise StackError("postgres: installed the package but found no pg_ctl under /usr/lib/postgresql")
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    """The server refuses to run as root; on a root machine run its tools as the `postgres` user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _pg_answers(
    cfg: StackConfig, user: str = DB_USER, password: str = DB_PASSWORD, db: str = DB_NAME
) -> bool:
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(
                host="127.0.0.1", port=cfg.pg_port, user=user, password=password, database=db, timeout=3
            )
        except Exception:
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


def start_postgres(cfg: StackConfig, timeout: float = 60.0) -> None:
    data = cfg.pg_dir / "data"
    log = cfg.pg_dir / "postgres.log"
    if _pg_answers(cfg):
        _say(f"postgres: already running at 127.0.0.1:{cfg.pg_port}")
        return
    pg_bin = install_postgres()
    cfg.pg_dir.mkdir(parents=True, exist_ok=True)
    cfg.pg_dir.parent.chmod(cfg.pg_dir.parent.stat().st_mode | 0o711)
    socket_dir = cfg.pg_dir / "socket"
    socket_dir.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(cfg.pg_dir, "postgres", "postgres")
        shutil.chown(socket_dir, "postgres", "postgres")
        _ensure_traversable(cfg.pg_dir)
    if not (data / "PG_VERSION").exists():
        pwfile = cfg.pg_dir / "superuser.pw"
        pwfile.write_text(DB_PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        result = subprocess.run(
            _as_postgres(
                [
                    str(pg_bin / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise StackError(
                f"postgres: initdb failed in {data}:\n{result.stdout[-1500:]}{result.stderr[-1500:]}"
            )
    if os.geteuid() == 0 and not log.exists():
        log.touch()
        shutil.chown(log, "postgres", "postgres")
    _say(f"postgres: starting PostgreSQL ({pg_bin.parent.name}) on 127.0.0.1:{cfg.pg_port}")
    opts = f"-p {cfg.pg_port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
    result = subprocess.run(
        _as_postgres(
            [
                str(pg_bin / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                opts,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"postgres: pg_ctl start failed; see {log}\n{result.stderr[-1000:]}\n{_tail(log)}")
    _create_role_and_db(cfg, pg_bin, socket_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _pg_answers(cfg):
            _say(f"postgres: answering at 127.0.0.1:{cfg.pg_port} as {DB_USER}/{DB_NAME}")
            return
        time.sleep(0.5)
    raise StackError(
        f"postgres: no answer at 127.0.0.1:{cfg.pg_port} within {timeout:.0f}s; see {log}\n{_tail(log)}"
    )


def _traversable(path: Path) -> bool:
    for parent in path.parents:
        try:
            if not parent.stat().st_mode & 0o001:
                return False
        except FileNotFoundError:
            continue
    return True


def _ensure_traversable(path: Path) -> None:
    """The postgres user must be able to reach the data directory through every parent."""
    for parent in path.parents:
        if not parent.stat().st_mode & 0o001:
            raise StackError(
                f"postgres: the postgres user cannot enter {parent}; set CLAIMLINE_STACK_DIR to a "
                "directory under a world-traversable path (for example /var/tmp/claimline)"
            )


def _psql(pg_bin: Path, cfg: StackConfig, socket_dir: Path, sql: str) -> str:
    result = subprocess.run(
        _as_postgres(
            [
                str(pg_bin / "psql"),
                "-h",
                str(socket_dir),
                "-p",
                str(cfg.pg_port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"postgres: `{sql}` failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _create_role_and_db(cfg: StackConfig, pg_bin: Path, socket_dir: Path) -> None:
    # The names and password are this module's constants, never input, so plain SQL text is safe here.
    role_exists = f"SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}'"  # noqa: S608
    db_exists = f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"  # noqa: S608
    if _psql(pg_bin, cfg, socket_dir, role_exists) != "1":
        _psql(pg_bin, cfg, socket_dir, f"CREATE ROLE {DB_USER} LOGIN CREATEDB PASSWORD '{DB_PASSWORD}'")
    if _psql(pg_bin, cfg, socket_dir, db_exists) != "1":
        _psql(pg_bin, cfg, socket_dir, f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")


def stop_postgres(cfg: StackConfig) -> None:
    data = cfg.pg_dir / "data"
    pg_bin = _pg_bin()
    if pg_bin is None or not (data / "postmaster.pid").exists():
        _say("postgres: not running")
        return
    result = subprocess.run(
        _as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"postgres: pg_ctl stop failed: {result.stderr.strip()}")
    _say("postgres: stopped")


# ---------------------------------------------------------------- commands


def up(cfg: StackConfig) -> None:
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    cfg.kafka_dir.mkdir(parents=True, exist_ok=True)
    start_postgres(cfg)
    start_kafka(cfg)
    write_env_file(cfg)


def down(cfg: StackConfig) -> None:
    stop_kafka(cfg)
    stop_postgres(cfg)


def status(cfg: StackConfig) -> dict[str, str]:
    kafka_pid = _pid_alive(cfg.kafka_dir / "kafka.pid")
    kafka = "answering" if _port_open(cfg.kafka_port) and _kafka_answers(cfg.bootstrap_servers) else "down"
    pg = "answering" if _pg_answers(cfg) else "down"
    return {
        "kafka": (
            f"{kafka} at {cfg.bootstrap_servers} (Apache Kafka {cfg.kafka_version}, pid {kafka_pid or '-'})"
        ),
        "postgres": f"{pg} at 127.0.0.1:{cfg.pg_port} (database {DB_NAME})",
    }


def env_lines(cfg: StackConfig) -> list[str]:
    return [
        f"export KAFKA_BOOTSTRAP_SERVERS={cfg.bootstrap_servers}",
        f"export DATABASE_URL={cfg.database_url}",
    ]


def write_env_file(cfg: StackConfig) -> Path:
    path = cfg.state_dir / "env.sh"
    path.write_text("\n".join(env_lines(cfg)) + "\n")
    return path
