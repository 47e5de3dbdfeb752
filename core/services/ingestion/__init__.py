"""Ingestion: uploads, their jobs, and the job code (docs/jobs.md).

`service` owns the jobs (submit, de-duplicate, cancel, resume, read); `job` is the code a runner
runs for one of them; `records` what both hand out."""
from core.services.ingestion.job import EMBED_GROUP, Ingester
from core.services.ingestion.records import STAGES, IngestResult, JobInfo, Submitted
from core.services.ingestion.service import IngestionService

__all__ = ["EMBED_GROUP", "STAGES", "IngestResult", "Ingester", "IngestionService", "JobInfo", "Submitted"]
