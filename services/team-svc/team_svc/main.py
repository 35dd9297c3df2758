from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import create_async_engine

from kam_shared.app import Runtime, create_service_app
from kam_shared.auth import SigningKey

from . import consumers
from .api import routers
from .keyring import KeyRing, KeyRingVerifier
from .models import plumbing
from .service.auth import ensure_bootstrap_admin
from .settings import Settings


def create_app(settings: Settings | None = None):
    settings = settings or Settings()

    async def install_keys(runtime: Runtime) -> None:
        """The key file's key joins the ring (and signs) unless the ring knows it already; team-svc
        then verifies tokens against the ring itself."""
        ring = runtime.extras["key_ring"] = KeyRing(runtime)
        await ring.install(SigningKey.load_or_create(settings.kam_jwt_private_key_file), "file")
        runtime.verifier = KeyRingVerifier(settings, ring)
        await runtime.verifier._refresh()

    async def open_read_pool(runtime: Runtime) -> None:
        """Hot read paths (is-above, subtree, chain, match) use their own autocommit pool on
        PostgreSQL (see service.common.read_only)."""
        if not runtime.db.sqlite:
            runtime.extras["read_engine"] = create_async_engine(
                runtime.db.url, isolation_level="AUTOCOMMIT", pool_size=5, max_overflow=5, pool_pre_ping=True)

    app = create_service_app(
        settings, title="KAM team-svc",
        description="Sales organisation, hierarchy, territories, quotas, incentives and auth.",
        tables=plumbing, routers=routers(), handlers=consumers.handlers(),
        on_startup=[install_keys, ensure_bootstrap_admin, open_read_pool])
    serve = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app):
        async with serve(app):
            try:
                yield
            finally:
                read_engine = app.state.runtime.extras.pop("read_engine", None)
                if read_engine is not None:
                    await read_engine.dispose()

    app.router.lifespan_context = lifespan
    return app
