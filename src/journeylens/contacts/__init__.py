"""Contact-centre signals (``journeylens contacts``): why customers contact, the trend, avoidable
and repeated contacts, cost by reason, and weekly signals per owning department.

The engine work is in :mod:`journeylens.contacts.analysis` (imported on use); this package's
top level holds only the settings, so reading ``journeylens.toml`` never imports the engine.
"""

from __future__ import annotations

from journeylens.contacts.settings import ContactsSettings

__all__ = ["ContactsSettings"]
