"""Pure rules of sign-in: growing delays after failures, the client address behind trusted
proxies, and the password policy. No I/O and no clock: the time is passed in.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import math
from collections.abc import Container, Iterable
from dataclasses import dataclass, replace

from kam_shared.domain_errors import ValidationProblem

# ------------------------------------------------------------------------------ throttling


@dataclass(frozen=True)
class ThrottlePolicy:
    """`free_failures` failures cost nothing; from then on each failure makes the next attempt wait
    2, 4, 8, … times `base_delay_s` seconds, up to `max_delay_s`. A key with no attempt for
    `forget_after_s` starts over.

    A delay instead of a lock: whoever types wrong passwords for an account from one address slows
    only that (account, address) pair and that address, never the owner signing in from another."""
    free_failures: int
    max_delay_s: int
    forget_after_s: int
    base_delay_s: int = 1

    def delay_s(self, failures: int) -> int:
        if failures < self.free_failures:
            return 0
        exponent = min(failures - self.free_failures + 1, 40)  # 2**40 s is past any cap; no overflow
        return min(self.base_delay_s * 2 ** exponent, self.max_delay_s)


@dataclass(frozen=True)
class ThrottleState:
    failures: int = 0
    blocked_until: dt.datetime | None = None
    last_attempt_at: dt.datetime | None = None


def current(policy: ThrottlePolicy, state: ThrottleState, now: dt.datetime) -> ThrottleState:
    """The state as it counts now: forgotten after a quiet spell."""
    if state.last_attempt_at is None or now - state.last_attempt_at >= dt.timedelta(seconds=policy.forget_after_s):
        return ThrottleState()
    return state


def wait_s(state: ThrottleState, now: dt.datetime) -> int:
    """Whole seconds until the next attempt is allowed (0 = now)."""
    if state.blocked_until is None or state.blocked_until <= now:
        return 0
    return max(1, math.ceil((state.blocked_until - now).total_seconds()))


def attempt(policy: ThrottlePolicy, state: ThrottleState, now: dt.datetime) -> ThrottleState:
    """An attempt that was allowed, counted as a failure before the (slow) password check, so that
    parallel guesses cannot all slip through one open moment; a success takes it back (`succeeded`)."""
    state = current(policy, state, now)
    failures = state.failures + 1
    delay = policy.delay_s(failures)
    return ThrottleState(failures=failures, blocked_until=now + dt.timedelta(seconds=delay) if delay else None,
                         last_attempt_at=now)


def succeeded_from_address(policy: ThrottlePolicy, state: ThrottleState) -> ThrottleState:
    """A good password from an address un-counts that one attempt (and only it: signing in to
    one's own account must not wipe the failures an address piled up against others)."""
    failures = max(0, state.failures - 1)
    return replace(state, failures=failures,
                   blocked_until=state.blocked_until if policy.delay_s(failures) else None)


# ------------------------------------------------------------------------------ client address

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """KAM_TRUSTED_PROXIES: comma- or space-separated CIDRs (a bare address is a /32 or /128)."""
    networks = []
    for part in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"KAM_TRUSTED_PROXIES: {part!r} is not an address or CIDR") from None
    return tuple(networks)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in n for n in networks)


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """Who is signing in: the socket peer, unless the peer is a trusted proxy; then the right-most
    address of X-Forwarded-For that is not itself a trusted proxy. Entries to the left of that
    one were written by the client and prove nothing. A malformed entry stops the walk at the
    last trusted hop (the proxy that passed it on), so junk never becomes an address of its own."""
    peer = peer or "unknown"
    hop = _ip(peer)
    if not _trusted(hop, trusted):
        return peer
    chain = [entry.strip() for header in forwarded_for for entry in header.split(",") if entry.strip()]
    last_trusted = str(hop)
    for entry in reversed(chain):
        address = _ip(entry)
        if address is None:
            return last_trusted
        if not _trusted(address, trusted):
            return str(address)
        last_trusted = str(address)
    return last_trusted


# ------------------------------------------------------------------------------ password policy

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 200


def check_password(password: str, *, email: str, name: str, common: Container[str], field: str = "password") -> None:
    """NIST SP 800-63B §3.1.1.2: long enough, not a known-common password, not derived from the
    account's own email or name. No composition rules (they make passwords worse, not better)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationProblem(f"{field} must have at least {MIN_PASSWORD_LENGTH} characters", field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationProblem(f"{field} must have at most {MAX_PASSWORD_LENGTH} characters", field=field)
    folded = password.casefold()
    if folded in common or folded.strip() in common:
        raise ValidationProblem(f"{field} is one of the most common passwords; choose another", field=field)
    local = email.strip().casefold().split("@")[0]
    if folded == email.strip().casefold() or (len(local) >= 3 and local in folded):
        raise ValidationProblem(f"{field} must not contain the email address", field=field)
    whole_name = "".join(name.casefold().split())
    parts = [p for p in name.casefold().replace(".", " ").replace("-", " ").split() if len(p) >= 4]
    if (len(whole_name) >= 3 and whole_name in "".join(folded.split())) or any(p in folded for p in parts):
        raise ValidationProblem(f"{field} must not contain the user's name", field=field)


# ------------------------------------------------------------------------------ refresh tokens


@dataclass(frozen=True)
class RefreshState:
    """What team-svc stored about a presented refresh token (a row of refresh_tokens)."""
    expires_at: dt.datetime
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    user_active: bool
    must_change_password: bool


def refresh_verdict(state: RefreshState | None, now: dt.datetime) -> str:
    """"ok" when the token may be exchanged for a new pair; otherwise why not. "reused" (a token
    already exchanged, presented again) is the one that revokes its whole family: the legitimate
    client and a thief both hold it, and nobody can tell which one is which (OAuth 2.0 Security BCP
    §4.14.2)."""
    if state is None:
        return "unknown"
    if state.revoked_at is not None:
        return "revoked"
    if state.used_at is not None:
        return "reused"
    if state.expires_at <= now:
        return "expired"
    if not state.user_active:
        return "user_deactivated"
    if state.must_change_password:
        return "password_change_required"
    return "ok"
