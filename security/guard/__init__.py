"""Guardrails that run before the crew: a prompt-injection detector and personal-data redaction.

- `security.guard.injection`: scores a message for prompt injection (offline; a logistic regression over
  word and character n-grams plus structural signals, fitted on attack and support examples we wrote
  ourselves, `security/guard/data/`; weights in `injection_model.json`, made by `security.guard.training`).
- `security.guard.pii`: finds card numbers (Luhn), IBANs, e-mail addresses, phone numbers and national ids,
  and redacts them.
- `security.guard.hosted`: what a call to a hosted model goes through: personal data redacted, a canary
  token in the system prompt, and the reply checked for it.
"""
