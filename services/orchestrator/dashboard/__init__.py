"""The dashboard: server-rendered pages under ``/ui`` (funnel, accounts, contacts, reminders,
dead letters). Build it with ``routes.dashboard_router(engine, settings)``."""
