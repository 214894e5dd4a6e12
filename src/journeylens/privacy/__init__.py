"""Privacy: forgetting a person everywhere, and keeping them out of later ingests (docs/privacy.md)."""

from __future__ import annotations

from journeylens.privacy.forget import ForgetReport, forget

__all__ = ["ForgetReport", "forget"]
