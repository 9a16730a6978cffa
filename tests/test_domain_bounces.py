"""Bounce policy: forged-bounce protection and the soft-bounce score (pure functions)."""

from __future__ import annotations

import datetime as dt

import pytest

from mailcrm.domain.bounces import (
    KILL_REASONS,
    NOT_ABOUT_ADDRESS,
    PriorReport,
    SentRecord,
    SoftEvent,
    decide_bounce,
    soft_score,
    soft_score_decision,
    tie_of,
    verify_bounce,
)
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


# --- kill / suspect / none (issue 20) ----------------------------------------------------------

NOW = dt.datetime(2026, 3, 10, 12, tzinfo=dt.timezone.utc)
SOFT_ABOUT_ADDRESS = ("mailboxfull", "suspend", "filtered", "expired", "networkerror", "systemerror", "onhold")


@pytest.mark.parametrize("reason", sorted(KILL_REASONS))
def test_a_permanent_dead_reason_tied_by_message_id_kills(reason: str) -> None:
    assert decide_bounce(reason, True, "message_id", at=NOW).action == "kill"


@pytest.mark.parametrize("reason", sorted(KILL_REASONS))
def test_the_same_without_a_quoted_original_only_makes_the_address_suspect(reason: str) -> None:
    d = decide_bounce(reason, True, "unquoted", at=NOW)
    assert d.action == "suspect" and "check this address" in d.why


@pytest.mark.parametrize("reason", sorted(KILL_REASONS))
def test_a_temporary_failure_with_a_dead_reason_never_kills(reason: str) -> None:
    assert decide_bounce(reason, False, "message_id", at=NOW).action == "none"


@pytest.mark.parametrize("reason", sorted(NOT_ABOUT_ADDRESS | set(SOFT_ABOUT_ADDRESS)))
@pytest.mark.parametrize("tie", ["message_id", "unquoted"])
def test_filter_block_policy_spam_content_and_quota_reasons_never_kill(reason: str, tie: str) -> None:
    many = [PriorReport(NOW - dt.timedelta(days=d), reason, True, "message_id", f"r{d}") for d in range(1, 10)]
    assert decide_bounce(reason, True, tie, at=NOW, prior=many).action != "kill"  # type: ignore[arg-type]


@pytest.mark.parametrize("reason", sorted(KILL_REASONS) + ["mailboxfull"])
def test_a_report_about_no_mail_sent_there_does_nothing(reason: str) -> None:
    assert decide_bounce(reason, True, "unrelated", at=NOW).action == "none"


@pytest.mark.parametrize(("hours", "same_report", "prior_tie", "action"), [
    (24, False, "unquoted", "kill"),      # a second independent report a day later
    (72, False, "message_id", "kill"),
    (23, False, "unquoted", "suspect"),   # too close: may be the same incident retried
    (48, True, "unquoted", "suspect"),    # the same report seen twice is not independent
    (48, False, "unrelated", "suspect"),  # a report about other mail proves nothing
])
def test_a_second_independent_report_a_day_apart_kills_a_suspect(hours: int, same_report: bool, prior_tie: str,
                                                                  action: str) -> None:
    prior = [PriorReport(NOW - dt.timedelta(hours=hours), "userunknown", True, prior_tie, "r1")]  # type: ignore[arg-type]
    d = decide_bounce("hostunknown", True, "unquoted", at=NOW, prior=prior, report_id="r1" if same_report else "r2")
    assert d.action == action


def test_a_prior_soft_report_does_not_confirm_a_dead_one() -> None:
    prior = [PriorReport(NOW - dt.timedelta(days=3), "mailboxfull", True, "message_id", "r1")]
    assert decide_bounce("userunknown", True, "unquoted", at=NOW, prior=prior, report_id="r2").action == "suspect"


@pytest.mark.parametrize("reason", SOFT_ABOUT_ADDRESS)
def test_a_run_of_soft_failures_makes_the_address_suspect_not_dead(reason: str) -> None:
    four = [PriorReport(NOW - dt.timedelta(days=d), reason, d % 2 == 0, "message_id", f"r{d}") for d in (1, 2, 3, 4)]
    assert decide_bounce(reason, False, "message_id", at=NOW, prior=four[:3]).action == "none"  # four days
    d = decide_bounce(reason, False, "message_id", at=NOW, prior=four)  # five days
    assert d.action == "suspect"
    # Outside the window they no longer count.
    old = [PriorReport(p.at - dt.timedelta(days=30), p.reason, p.permanent, p.tie, p.report_id) for p in four]
    assert decide_bounce(reason, False, "message_id", at=NOW, prior=old).action == "none"


@pytest.mark.parametrize("reason", ["blocked", "spamdetected", "policyviolation", "rejected", "delayed"])
def test_failures_about_the_sender_or_the_message_never_add_up(reason: str) -> None:
    many = [PriorReport(NOW - dt.timedelta(days=d), reason, True, "message_id", f"r{d}") for d in range(1, 10)]
    assert decide_bounce(reason, True, "message_id", at=NOW, prior=many).action == "none"


def test_the_tie_comes_from_any_message_id_the_report_gives() -> None:
    sent = [SentRecord("offer-1@OURFIRM.example", T0)]
    quoted = Bounce((BounceRecipient(ADDR, True, "5.1.1", "userunknown"),), original_message_ids=("x@y", "offer-1@ourfirm.example"))
    assert tie_of(quoted, ADDR, sent) == "message_id"
    assert tie_of(Bounce(quoted.recipients), ADDR, sent) == "unquoted"
    assert tie_of(Bounce(quoted.recipients, original_message_ids=("other@ourfirm.example",)), ADDR, sent) == "unrelated"
    assert tie_of(quoted, ADDR, []) == "unrelated"
    assert tie_of(quoted, ADDR, sent, bounced_at=T0 - dt.timedelta(days=1)) == "unrelated"  # sent after the report


def test_a_forged_report_quoting_no_original_never_kills_a_mailed_address() -> None:
    # Issue 20: a null-sender report naming alice (mailed before) but quoting nothing.
    forged = Bounce((BounceRecipient(ADDR, True, "5.1.1", "userunknown", permanent=True),))
    tie = tie_of(forged, ADDR, [SentRecord("s1@ourfirm.example", T0)], bounced_at=T0 + dt.timedelta(days=1))
    assert tie == "unquoted"
    assert decide_bounce("userunknown", True, tie, at=T0 + dt.timedelta(days=1)).action == "suspect"
