"""The audit trail: one log reader's commits as typed changes, history, events, webhooks."""
