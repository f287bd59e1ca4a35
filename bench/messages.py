"""The message mix the scenarios send: our own text, weighted like a support inbox.

Most mail is one plain question; a few are complaints; about one in ten raises several issues at once
(the complex route). Every message is written for this benchmark (no customer data).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchMessage:
    kind: str  # billing, technical, escalation, general or complex (what we meant to write)
    text: str


MIX: tuple[BenchMessage, ...] = (
    BenchMessage("billing", "I was charged twice for my subscription this month, can I get a refund?"),
    BenchMessage("billing", "Where can I download the invoice for last quarter? I need it for my accountant."),
    BenchMessage("billing", "My card payment was declined although the card is valid. How do I update it?"),
    BenchMessage("billing", "Please correct the VAT number on my latest invoice."),
    BenchMessage("technical", "The app crashes with an error every time I open the reports page."),
    BenchMessage("technical", "I cannot log in: the password reset e-mail never arrives."),
    BenchMessage("technical", "Sync between the desktop app and the phone stopped working yesterday."),
    BenchMessage("technical", "Our API integration gets a 401 error since this morning."),
    BenchMessage("escalation", "This is unacceptable, the outage cost us a full day. I want to speak to a manager."),
    BenchMessage("escalation", "I have complained three times and nothing happened; I am contacting my lawyer."),
    BenchMessage("general", "What are your support opening hours on public holidays?"),
    BenchMessage("general", "Do you offer a discount for non-profit organisations?"),
    BenchMessage("general", "How do I invite a colleague to my workspace?"),
    BenchMessage("complex", "I was charged twice for my invoice and also the app crashes with an error at login."),
)


def payloads(
    path: str = "/support/request", customer_ids: tuple[str, ...] = ("cust-bench-1",)
) -> list[dict[str, object]]:
    """Request bodies cycling through the mix and the given customers."""
    return [
        {"path": path, "json": {"message": message.text, "customer_id": customer_ids[i % len(customer_ids)]}}
        for i, message in enumerate(MIX)
    ]
