"""CloudEvents 1.0 envelope and the typed catalogue of every KAM domain event.

Payload models live here, one module per domain, because they are the contract between
services: the producer builds them, consumers parse them, and the AsyncAPI document that
subscribers read is generated from them (`kam catalogue`), never written by hand.
Importing this package registers every domain's events.
"""
from . import forecast, territory_plan  # noqa: F401
from .account import AccountCreated, AccountMerged, AccountState, AccountTeamChanged  # noqa: F401
from .base import (  # noqa: F401
                   CATALOGUE,
                   CONTENT_TYPE,
                   EVENT_TYPE_HEADER,
                   TOPICS,
                   CloudEvent,
                   DomainEvent,
                   EventSpec,
                   FieldChange,
                   Payload,
                   asyncapi_document,
                   dlq_topic,
                   parse_payload,
                   register,
                   utcnow,
)
from .opportunity import OpportunityClosed, OpportunityCreated, OpportunityStageChanged, OpportunityState  # noqa: F401
from .team import UserCreated, UserState, UserUpdated  # noqa: F401
