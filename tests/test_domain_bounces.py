"""Bounce policy: forged-bounce protection and the soft-bounce score (pure functions)."""

from __future__ import annotations

import datetime as dt

from mailcrm.domain.bounces import SentRecord, SoftEvent, soft_score, soft_score_decision, verify_bounce
from mailcrm.parse.facts import Bounce, BounceRecipient

UTC = dt.timezone.utc
T0 = dt.datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
ADDR = "ivan@client.example"


def bounce(mid: str | None = "offer-42@ourfirm.example", subject: str | None = "Offer") -> Bounce:
    return Bounce((BounceRecipient(ADDR, True, "5.1.1", "userunknown"),), original_message_id=mid, original_subject=subject)


def test_verified_when_original_message_id_matches_mail_sent_before() -> None:
    sent = [SentRecord("<offer-42@OurFirm.Example>", T0, "Offer")]  # domain case differs
    v = verify_bounce(bounce(), ADDR, sent, bounced_at=T0 + dt.timedelta(minutes=5))
    assert v.verified and v.matched == sent[0]


def test_unverified_when_no_mail_was_sent_to_the_address() -> None:
    v = verify_bounce(bounce(), ADDR, [])
    assert (v.status, v.reason) == ("unverified", "no mail was sent to this address before the bounce")


def test_unverified_when_message_id_does_not_match() -> None:
    v = verify_bounce(bounce(mid="forged@attacker.example"), ADDR, [SentRecord("offer-42@ourfirm.example", T0)])
    assert not v.verified and "Message-ID" in v.reason


def test_unverified_when_the_only_mail_was_sent_after_the_bounce() -> None:
    sent = [SentRecord("offer-42@ourfirm.example", T0)]
    assert not verify_bounce(bounce(), ADDR, sent, bounced_at=T0 - dt.timedelta(hours=1)).verified


def test_unverified_when_the_bounce_names_another_address() -> None:
    assert verify_bounce(bounce(), "other@client.example", [SentRecord(None, T0)]).reason == "the bounce does not name this address"


def test_subject_is_compared_when_there_is_no_message_id() -> None:
    sent = [SentRecord(None, T0, "Offer")]
    assert verify_bounce(bounce(mid=None, subject="Re: Offer"), ADDR, sent).verified
    assert not verify_bounce(bounce(mid=None, subject="You won a prize"), ADDR, sent).verified


def test_no_original_quoted_is_verified_by_prior_mail_alone() -> None:
    v = verify_bounce(bounce(mid=None, subject=None), ADDR, [SentRecord(None, T0)], bounced_at=T0 + dt.timedelta(days=1))
    assert v.verified and "no original quoted" in v.reason


def test_naive_datetimes_do_not_raise() -> None:
    v = verify_bounce(bounce(), ADDR, [SentRecord("offer-42@ourfirm.example", T0.replace(tzinfo=None))], bounced_at=T0)
    assert v.verified


NOW = dt.datetime(2025, 3, 20, 12, 0, tzinfo=UTC)


def days_ago(*days: float) -> list[SoftEvent]:
    return [SoftEvent(ADDR, NOW - dt.timedelta(days=d)) for d in days]


def test_five_soft_bounces_on_five_days_reach_the_threshold() -> None:
    assert soft_score_decision(days_ago(1, 2, 3, 4, 5), NOW)
    assert not soft_score_decision(days_ago(1, 2, 3, 4), NOW)


def test_at_most_one_per_day_counts() -> None:
    events = days_ago(1, 1.01, 1.02, 1.03, 1.04, 2)
    assert soft_score(events, NOW) == 2
    assert not soft_score_decision(events, NOW)


def test_events_outside_the_window_do_not_count() -> None:
    assert not soft_score_decision(days_ago(1, 2, 3, 4, 15), NOW)
    assert soft_score_decision(days_ago(1, 2, 3, 4, 15), NOW, window_days=30)


def test_mail_received_from_the_address_resets_the_score() -> None:
    events = days_ago(1, 2, 3, 4, 5, 6)
    assert soft_score_decision(events, NOW)
    assert not soft_score_decision(events, NOW, last_inbound=NOW - dt.timedelta(days=3.5))
    assert soft_score(events, NOW, last_inbound=NOW - dt.timedelta(days=3.5)) == 3


def test_custom_threshold() -> None:
    assert soft_score_decision(days_ago(1, 2), NOW, threshold=2)
    assert not soft_score_decision([], NOW, threshold=0)
