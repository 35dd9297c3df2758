from kam_shared.app import create_service_app
from kam_shared.auth import SigningKey

from .api import router
from .models import plumbing
from .service import ensure_bootstrap_admin
from .settings import Settings


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    app = create_service_app(
        settings, title="KAM team-svc",
        description="Sales organisation, hierarchy, territories, quotas, incentives and auth.",
        tables=plumbing, routers=[router], on_startup=[ensure_bootstrap_admin])
    app.state.signing_key = SigningKey.load_or_create(settings.kam_jwt_private_key_file)
    return app
