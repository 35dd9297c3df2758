import json

from kam_shared.app import create_service_app
from kam_shared.auth import SigningKey, jwks_document

from .api import router
from .models import plumbing
from .service import ensure_bootstrap_admin
from .settings import Settings


def create_app(settings: Settings | None = None):
    settings = settings or Settings()
    signing_key = SigningKey.load_or_create(settings.kam_jwt_private_key_file)
    if not settings.kam_jwks_json:
        # team-svc verifies the tokens it issues with its own key, without calling itself.
        settings.kam_jwks_json = json.dumps(jwks_document([signing_key]))
    app = create_service_app(
        settings, title="KAM team-svc",
        description="Sales organisation, hierarchy, territories, quotas, incentives and auth.",
        tables=plumbing, routers=[router], on_startup=[ensure_bootstrap_admin])
    app.state.signing_key = signing_key
    return app
