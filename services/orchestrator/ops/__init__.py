"""The ops API: contacts, accounts, touches, decisions, reminders, consent, funnel, sources."""
