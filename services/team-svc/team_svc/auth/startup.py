"""Start-up of the auth slice: the key file's key joins the ring, and team-svc verifies tokens
against the ring itself."""
from __future__ import annotations

from kam_shared.app import Runtime
from kam_shared.auth import SigningKey

from .keyring import KeyRing, KeyRingVerifier


def install_keys(settings):
    async def install(runtime: Runtime) -> None:
        """The key file's key joins the ring (and signs) unless the ring knows it already; team-svc
        then verifies tokens against the ring itself."""
        ring = runtime.key_ring = KeyRing(runtime)
        await ring.install(SigningKey.load_or_create(settings.kam_jwt_private_key_file), "file")
        runtime.verifier = KeyRingVerifier(settings, ring)
        await runtime.verifier.refresh()

    return install
