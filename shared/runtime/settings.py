"""Every setting the services read, from the environment, in one place."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field("127.0.0.1:19092", alias="KAFKA_BOOTSTRAP_SERVERS")
    database_url: str = Field(
        "postgresql+asyncpg://claimline:claimline@127.0.0.1:55432/claimline", alias="DATABASE_URL"
    )
    topic_partitions: int = Field(6, alias="CLAIMLINE_TOPIC_PARTITIONS")
    topic_replication: int = Field(1, alias="CLAIMLINE_TOPIC_REPLICATION")
    consumer_group_suffix: str = Field("", alias="CLAIMLINE_CONSUMER_GROUP_SUFFIX")
    topic_prefix: str = Field("", alias="CLAIMLINE_TOPIC_PREFIX")
    archive_dir: Path = Field(REPO_ROOT / ".cache" / "archive", alias="CLAIMLINE_ARCHIVE_DIR")
    drop_dir: Path | None = Field(None, alias="CLAIMLINE_DROP_DIR")
    drop_poll_seconds: float = Field(2.0, alias="CLAIMLINE_DROP_POLL_SECONDS")
    routing_file: Path | None = Field(None, alias="CLAIMLINE_ROUTING_FILE")
    fee_schedule: Path | None = Field(None, alias="CLAIMLINE_FEE_SCHEDULE")
    jwt_public_keys: Path | None = Field(
        None,
        alias="CLAIMLINE_JWT_KEYS",
        description="a JWKS JSON file or a PEM public key of the identity provider",
    )
    jwt_issuer: str | None = Field(None, alias="CLAIMLINE_JWT_ISSUER")
    jwt_audience: str | None = Field(None, alias="CLAIMLINE_JWT_AUDIENCE")
    rules_dir: Path | None = Field(None, alias="CLAIMLINE_RULES_DIR")
    ncci_ptp: Path | None = Field(None, alias="CLAIMLINE_NCCI_PTP")
    ncci_mue: Path | None = Field(None, alias="CLAIMLINE_NCCI_MUE")
    cross_practice_matching: bool = Field(True, alias="CLAIMLINE_CROSS_PRACTICE_MATCHING")
    log_level: str = Field("INFO", alias="CLAIMLINE_LOG_LEVEL")
    log_format: str = Field("json", alias="CLAIMLINE_LOG_FORMAT")
    health_host: str = Field("127.0.0.1", alias="CLAIMLINE_HEALTH_HOST")
    health_port: int | None = Field(None, alias="CLAIMLINE_HEALTH_PORT")
    gateway_host: str = Field("127.0.0.1", alias="CLAIMLINE_GATEWAY_HOST")
    gateway_port: int = Field(8080, alias="CLAIMLINE_GATEWAY_PORT")
    gateway_workers: int = Field(1, ge=1, le=64, alias="CLAIMLINE_GATEWAY_WORKERS")
    outbox_batch: int = Field(500, alias="CLAIMLINE_OUTBOX_BATCH")
    consumer_batch: int = Field(
        500,
        ge=1,
        alias="CLAIMLINE_CONSUMER_BATCH",
        description="most records a batch consumer (remit lines, decisions) applies in one transaction",
    )
    outbox_idle_seconds: float = Field(0.2, alias="CLAIMLINE_OUTBOX_IDLE_SECONDS")
    gc_threshold: int = Field(
        50_000,
        ge=0,
        alias="CLAIMLINE_GC_THRESHOLD",
        description="allocations between two young-generation garbage collections once a service has "
        "started (Python's default is 700); 0 leaves the interpreter's settings alone",
    )
    transient_retry_seconds: float = Field(1.0, alias="CLAIMLINE_TRANSIENT_RETRY_SECONDS")
    shutdown_grace_seconds: float = Field(
        15.0,
        alias="CLAIMLINE_SHUTDOWN_GRACE_SECONDS",
        description="how long a stopping service lets its in-flight messages finish before it gives up on "
        "them (uncommitted, so another replica gets them again)",
    )

    # Kafka client security (docs/operations.md). PLAINTEXT suits the local stack only.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", alias="KAFKA_SASL_MECHANISM"
    )
    kafka_sasl_username: str | None = Field(None, alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(None, alias="KAFKA_SASL_PASSWORD")
    kafka_ssl_cafile: Path | None = Field(None, alias="KAFKA_SSL_CAFILE")
    kafka_ssl_certfile: Path | None = Field(None, alias="KAFKA_SSL_CERTFILE")
    kafka_ssl_keyfile: Path | None = Field(None, alias="KAFKA_SSL_KEYFILE")
    kafka_ssl_key_password: SecretStr | None = Field(None, alias="KAFKA_SSL_KEY_PASSWORD")

    # PostgreSQL TLS, libpq's names and meanings (docs/operations.md). Unset: asyncpg's default.
    database_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = (
        Field(None, alias="DATABASE_SSLMODE")
    )
    database_sslrootcert: Path | None = Field(None, alias="DATABASE_SSLROOTCERT")
    database_sslcert: Path | None = Field(None, alias="DATABASE_SSLCERT")
    database_sslkey: Path | None = Field(None, alias="DATABASE_SSLKEY")

    def topic(self, name: str) -> str:
        """The physical topic for a versioned contract topic (a prefix isolates test runs)."""
        return f"{self.topic_prefix}{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
