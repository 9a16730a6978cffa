"""Contacts by phone go through the search column's index, not a LIKE over the JSON ``phones`` text."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from mailcrm.store import db
from mailcrm.store.models import Contact, EmailAddress
from mailcrm.store.phones import contacts_by_phones, contacts_with_phone


def _statements(engine: Any) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cur, stmt, *a: seen.append(stmt))
    return seen


def test_phone_lookup_uses_the_search_index_and_sees_this_transactions_contacts(store: Any) -> None:
    engine, factory = store
    with db.transaction(factory) as s:
        s.add_all([Contact(name="Анна", phones=["+74951234567;ext=12"], user_fields=[],
                           addresses=[EmailAddress(address="anna@firm.example")]),
                   Contact(name="Борис", phones=["+749512345678"], user_fields=[]),  # a longer number containing it
                   Contact(name="Вера", phones=["+79031112233"], user_fields=[], status="merged")])
    seen = _statements(engine)
    with db.transaction(factory) as s:
        assert [c.name for c in contacts_with_phone(s, "+74951234567")] == ["Анна"]  # exact match, extension ignored
        assert contacts_with_phone(s, "+79031112233") == []  # not a live contact
        assert not [q for q in seen if "CAST(contacts.phones" in q]
        if engine.dialect.name == "sqlite":  # the trigram table answers (FTS5)
            assert any("contact_search" in q for q in seen)
        # A contact added in this transaction is found before its search text is refreshed at commit.
        s.add(Contact(name="Глеб", phones=["+79215550000"], user_fields=[]))
        assert [c.name for c in contacts_with_phone(s, "+79215550000")] == ["Глеб"]
        # ... and one whose phone changed here is found by the new number only.
        anna = contacts_with_phone(s, "+74951234567")[0]
        anna.phones = ["+74957654321"]
        assert [c.name for c in contacts_with_phone(s, "+74957654321")] == ["Анна"]
        assert contacts_with_phone(s, "+74951234567") == []
        found = contacts_by_phones(s, ["+79215550000", "+749512345678", "+70000000000"])
        assert {k: (v.name if v else None) for k, v in found.items()} == {
            "+79215550000": "Глеб", "+749512345678": "Борис", "+70000000000": None}
    with db.transaction(factory) as s:  # after commit, through the index
        assert [c.name for c in contacts_with_phone(s, "+74957654321")] == ["Анна"]
        assert [c.name for c in contacts_with_phone(s, "+79215550000")] == ["Глеб"]
