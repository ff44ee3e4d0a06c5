"""Versioned topic names. A breaking change to a contract is a new topic version, never an edit."""

from __future__ import annotations

REMIT_LINES = "remit.lines.v1"
REMIT_PROVIDER_ADJUSTMENTS = "remit.provider-adjustments.v1"
PRACTICES = "practices.v1"
INGEST_FILES = "ingest.files.v1"
INGEST_RAW_FILES = "ingest.raw-files.v1"
CLAIMS_SUBMITTED = "claims.submitted.v1"
CLAIMS_ACKNOWLEDGMENTS = "claims.acknowledgments.v1"
INGEST_REJECTIONS = "ingest.rejections.v1"
DENIALS_DECISIONS = "denials.decisions.v1"
DENIALS_SCRUBS = "denials.scrubs.v1"
AUTHS_RECORDS = "auths.records.v1"
AUTHS_CHECKS = "auths.checks.v1"
AUTHS_LIMITS = "auths.limits.v1"
AUTHS_DOCUMENTATION = "auths.documentation.v1"
AUTHS_SCHEDULED = "auths.scheduled.v1"

ALL = (
    REMIT_LINES,
    REMIT_PROVIDER_ADJUSTMENTS,
    PRACTICES,
    CLAIMS_ACKNOWLEDGMENTS,
    INGEST_FILES,
    INGEST_RAW_FILES,
    CLAIMS_SUBMITTED,
    INGEST_REJECTIONS,
    DENIALS_DECISIONS,
    DENIALS_SCRUBS,
    AUTHS_RECORDS,
    AUTHS_CHECKS,
    AUTHS_LIMITS,
    AUTHS_DOCUMENTATION,
    AUTHS_SCHEDULED,
)

DLQ_SUFFIX = ".dlq"


def dead_letter(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"
