"""The composition root: builds every service from Settings, once per process.

The app (st.cache_resource), the CLI and the tests all call build_services(), so they
run the same wiring; tests pass a temporary database, a fake embedder or another store.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from core.answers.generate import make_writer
from core.config import Settings
from core.database import Database
from core.events import log_event
from core.jobs import make_job_queue
from core.search.cache import IndexCache
from core.search.embeddings import Embedder, make_embedder
from core.services.accounts import AccountService
from core.services.chat import ChatService
from core.services.classes import ClassService
from core.services.documents import DocumentService
from core.services.feedback import FeedbackService
from core.services.gold import GoldService
from core.services.ingestion import Ingester, IngestionService
from core.services.insights import InsightsService
from core.services.material import MaterialChanged
from core.services.status import StatusService
from core.storage import FileStore, StoreResolver, make_file_store


@dataclass
class Services:
    settings: Settings
    db: Database
    store: FileStore
    accounts: AccountService
    classes: ClassService
    documents: DocumentService
    ingestion: IngestionService
    chat: ChatService
    feedback: FeedbackService
    gold: GoldService
    insights: InsightsService
    status: StatusService
    embedder_factory: Callable[[], Embedder]

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use (~5 s for torch and the weights)."""
        return self.embedder_factory()


def lazy_embedder(settings: Settings) -> Callable[[], Embedder]:
    """A factory that builds the embedder on first call: the model loads only when needed."""
    holder: list[Embedder] = []
    lock = threading.Lock()

    def get() -> Embedder:
        if not holder:
            with lock:
                if not holder:
                    holder.append(make_embedder(settings.embedder, batch_size=settings.embed_batch_size,
                                                   precision=settings.embed_precision))
        return holder[0]

    return get


def build_services(settings: Settings | None = None, *, migrate: bool = False, embedder: Embedder | None = None,
                   store: FileStore | None = None, worker_name: str = "app") -> Services:
    """Every service over one database and file store. `migrate` upgrades the schema first (the
    app at start, tests, throwaway evaluation databases); otherwise the schema is used as it is."""
    settings = (settings or Settings()).check()
    for notice in settings.notices():
        log_event("setting_notice", level=logging.WARNING, notice=notice)
    db = Database.from_url(settings.sqlalchemy_url, migrate=migrate)
    store = store or make_file_store(settings)
    stores = StoreResolver(settings, {store.backend: store})
    factory = (lambda: embedder) if embedder is not None else lazy_embedder(settings)
    accounts = AccountService(db, settings)
    classes = ClassService(db, stores)
    material = MaterialChanged()  # a document ready, deleted, hidden or shown: the class's material changed
    ingester = Ingester(db, stores, factory, settings, material, worker_name=worker_name)
    ingestion = IngestionService(db, store, stores, settings, material, make_job_queue(settings, db, ingester.run),
                                 ingester)
    documents = DocumentService(db, stores, settings, material, ingestion)
    chat = ChatService(db, IndexCache(db), factory, writer=make_writer(settings))
    gold = GoldService(db, chat)
    material.subscribe(gold.rerun)  # the class's checked questions run again
    feedback = FeedbackService(db)
    return Services(
        settings=settings,
        db=db,
        store=store,
        accounts=accounts,
        classes=classes,
        documents=documents,
        ingestion=ingestion,
        chat=chat,
        feedback=feedback,
        gold=gold,
        insights=InsightsService(db, feedback, factory),
        status=StatusService(db, store, settings, accounts, classes, documents, ingestion, chat),
        embedder_factory=factory,
    )
