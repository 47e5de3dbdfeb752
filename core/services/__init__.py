"""The composition root: builds every service from Settings, once per process.

The app (st.cache_resource), the CLI and the tests all call build_services(), so they
run the same wiring; tests pass a temporary database, a fake embedder or another store.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from core.config import Settings
from core.database import Database
from core.search.embeddings import Embedder, make_embedder
from core.search.cache import IndexCache
from core.services.accounts import AccountService
from core.services.chat import ChatService
from core.services.classes import ClassService
from core.services.documents import DocumentService
from core.storage import FileStore, make_file_store


@dataclass
class Services:
    settings: Settings
    db: Database
    store: FileStore
    indexes: IndexCache
    accounts: AccountService
    classes: ClassService
    documents: DocumentService
    chat: ChatService
    embedder_factory: Callable[[], Embedder]

    @property
    def embedder(self) -> Embedder:
        return self.embedder_factory()


def lazy_embedder(settings: Settings) -> Callable[[], Embedder]:
    """A factory that builds the embedder on first call: the model loads only when needed."""
    holder: list[Embedder] = []
    lock = threading.Lock()

    def get() -> Embedder:
        if not holder:
            with lock:
                if not holder:
                    holder.append(make_embedder(settings.embedder, batch_size=settings.embed_batch_size))
        return holder[0]

    return get


def build_services(settings: Settings | None = None, *, embedder: Embedder | None = None,
                   store: FileStore | None = None, migrate: bool = True) -> Services:
    settings = (settings or Settings()).check()
    db = Database.from_url(settings.sqlalchemy_url, migrate=migrate)
    store = store or make_file_store(settings)
    factory = (lambda: embedder) if embedder is not None else lazy_embedder(settings)
    indexes = IndexCache(db)
    documents = DocumentService(db, store, factory, settings, on_index_change=indexes.invalidate)
    return Services(
        settings=settings,
        db=db,
        store=store,
        indexes=indexes,
        accounts=AccountService(db, settings),
        classes=ClassService(db, documents.stores, on_index_change=indexes.invalidate),
        documents=documents,
        chat=ChatService(db, indexes, factory, settings),
        embedder_factory=factory,
    )
