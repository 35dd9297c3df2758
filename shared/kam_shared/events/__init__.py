"""CloudEvents 1.0 envelope and the typed catalogue of every KAM domain event.

Payload models live here, one module per domain, because they are the contract between
services: the producer builds them, consumers parse them, and the AsyncAPI document that
subscribers read is generated from them (`kam catalogue`), never written by hand.
Importing this package registers every domain's events.
"""
from .base import (CATALOGUE, TOPICS, CloudEvent, DomainEvent, EventSpec, FieldChange, Payload,  # noqa: F401
                   asyncapi_document, dlq_topic, parse_payload, register, utcnow)
from .team import UserCreated, UserState, UserUpdated  # noqa: F401
from .account import AccountCreated, AccountMerged, AccountState  # noqa: F401
from .opportunity import (OpportunityClosed, OpportunityCreated, OpportunityStageChanged,  # noqa: F401
                          OpportunityState)
from . import forecast  # noqa: F401
