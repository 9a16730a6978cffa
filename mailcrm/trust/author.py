"""Is the author of a message proven?  Pure rules over the source's evidence and the verdict.

An author claiming a user's address is proven by (in this order): a path the user controls
(IMAP sent/inbox roles, ``mailcrm import``), an authenticated SMTP session, a trusted network,
an aligned DKIM or SPF pass (RFC 7489 identifier alignment), a pass in an Authentication-
Results header from a trusted authserv-id, or a validated ARC chain whose newest seal is by a
trusted sealer and whose ARC-Authentication-Results show an aligned DKIM or SPF pass.  An ARC
pass by anyone else is recorded, never counted: anyone can seal a chain of their own.  Mail that claims no user address (a correspondent,
a delivery report, an auto-reply) is not judged here: it cannot act as the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mailcrm.trust.verify import aligned

Policy = Literal["require", "mark", "off"]
Action = Literal["accept", "mark", "quarantine"]
UNAUTHENTICATED = "unauthenticated_author"
UNAUTHENTICATED_FORM = "unauthenticated_form_sender"


@dataclass(frozen=True)
class Judgement:
    """The proof found (None when none was needed), and what the policy does with the message."""

    claims_user: bool
    # source | smtp-auth | trusted-network | dkim | spf | authentication-results | arc; "none": unproven
    # (quarantined, or stored flagged under "mark"); "unchecked": unproven under "off".
    proof: str | None
    action: Action
    reason: str | None = None

    @property
    def flagged(self) -> bool:
        """Stored without proof (policy "mark"): it may create nothing and kill nothing."""
        return self.action == "mark"


def needs_judging(source: str, role: str | None, evidence: dict[str, Any] | None) -> bool:
    """True for mail from outside (SMTP, an IMAP dropbox); the user's own paths are proof by themselves."""
    if source.startswith("import") or (role or "dropbox") in ("inbox", "sent"):
        return False
    return evidence is not None


def find_proof(evidence: dict[str, Any], verdict: dict[str, Any] | None, header_from: str | None,
               envelope_from: str | None, claimed: set[str],
               session_user: frozenset[str] | None = None) -> str | None:
    """How the claimed author is proven, or None.

    ``session_user``: the addresses of the user who logged in (SMTP AUTH); a login proves only
    that user's own addresses, not another user's of the same CRM.
    """
    if evidence.get("authenticated") and (session_user is None or claimed <= session_user):
        return "smtp-auth"
    if evidence.get("trusted_network"):
        return "trusted-network"
    if not verdict:
        return None
    domains = {a.rpartition("@")[2] for a in claimed}
    from_domain = verdict.get("from_domain")
    if header_from in claimed and from_domain:
        # The From header claims the user: DMARC's own test (aligned DKIM or SPF, RFC 7489 4.2).
        if verdict.get("aligned"):
            return "dkim" if any(aligned(d, from_domain) for d in verdict.get("dkim_domains") or []) else "spf"
        if verdict.get("authres") == "pass":
            return "authentication-results"
        if verdict.get("arc_trusted") and verdict.get("arc") == "pass":
            return "arc"  # a trusted sealer's ARC-Authentication-Results (RFC 8617), chain validated
        return None
    # Only the envelope claims the user: its SPF pass for that very domain, or a DKIM signature of it.
    if envelope_from in claimed:
        if verdict.get("spf") == "pass" and verdict.get("spf_domain") in domains:
            return "spf"
        if any(d in domains for d in verdict.get("dkim_domains") or []):
            return "dkim"
    return None


def judge(policy: Policy, source: str, role: str | None, evidence: dict[str, Any] | None,
          verdict: dict[str, Any] | None, header_from: str | None, envelope_from: str | None,
          user_addresses: frozenset[str], session_user: frozenset[str] | None = None) -> Judgement:
    """Decide what happens to one message under ``policy`` (see the module docstring)."""
    claimed = {a for a in (header_from, envelope_from) if a and a in user_addresses}
    if not claimed:
        return Judgement(False, None, "accept")
    if source.startswith("import") or (role or "dropbox") in ("inbox", "sent"):
        return Judgement(True, "source", "accept")
    if evidence is None:  # a sidecar written before sender authentication existed: as before
        return Judgement(True, None, "accept")
    proof = find_proof(evidence, verdict, header_from, envelope_from, claimed, session_user)
    if proof is not None:
        return Judgement(True, proof, "accept")
    if policy == "off":
        return Judgement(True, "unchecked", "accept")  # unproven, but the user turned the check off
    temp = [k for k in ("dkim", "spf", "dmarc") if verdict and verdict.get(k) == "temperror"]
    reason = UNAUTHENTICATED + (f" (DNS temperror: {', '.join(temp)})" if temp else "")
    return Judgement(True, "none", "quarantine" if policy == "require" else "mark", reason)


def judge_form_sender(policy: Policy, source: str, evidence: dict[str, Any] | None, verdict: dict[str, Any] | None,
                      header_from: str | None, envelope_from: str | None, sender: str) -> Judgement:
    """Is a form builder's notification mail really from ``sender`` (the [[forms]] address it matched)?

    The same proof as a user's own mail, for the sender's domain: an aligned DKIM or SPF pass,
    a trusted network, a trusted Authentication-Results or ARC pass.  A user's SMTP login proves
    nothing about a robot's address.  A lead is nothing but what it creates, so "mark" cannot
    store it powerless: unproven, it is quarantined under "require" and "mark" alike.
    """
    if source.startswith("import"):
        return Judgement(True, "source", "accept")
    if evidence is None:  # a sidecar written before sender authentication existed: as before
        return Judgement(True, None, "accept")
    proof = find_proof(evidence, verdict, header_from, envelope_from, {sender}, frozenset())
    if proof is not None:
        return Judgement(True, proof, "accept")
    if policy == "off":
        return Judgement(True, "unchecked", "accept")
    temp = [k for k in ("dkim", "spf", "dmarc") if verdict and verdict.get(k) == "temperror"]
    reason = UNAUTHENTICATED_FORM + (f" (DNS temperror: {', '.join(temp)})" if temp else "")
    return Judgement(True, "none", "quarantine", reason)
