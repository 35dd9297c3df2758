"""A service's start-up heap is frozen out of the cycle collector's full collections, once."""
import gc

from kam_shared import gc_tuning
from kam_shared.testing import service_client


async def test_a_started_service_has_frozen_its_start_up_heap_and_raised_the_young_threshold():
    async with service_client("forecast-svc"):
        frozen = gc.get_freeze_count()
        assert frozen > 10_000, frozen  # the modules, routes and models of a service, at least
        assert gc.get_threshold()[0] == gc_tuning.YOUNG_THRESHOLD
    async with service_client("team-svc"):
        assert gc.get_freeze_count() <= frozen  # once per process: a second app freezes nothing more
