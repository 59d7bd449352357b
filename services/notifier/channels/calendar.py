"""The iCalendar (RFC 5545) invite of a call reminder: ``METHOD:REQUEST`` with a UID stable per
touch (a resend updates the event, never adds one), ORGANIZER and ATTENDEE as ``mailto:`` URIs
with a ``CN`` (a ``From`` like ``Trellis <r@x>`` is split, never pasted into the URI), the start
in the rep's zone (with its VTIMEZONE), and the reminder's story as the description."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, vCalAddress, vText

from schemas.commands import DispatchTouch
from services.notifier.render import RenderedMessage


def calendar_address(address: str, name: str | None = None) -> vCalAddress:
    """``mailto:<addr>`` with ``CN`` (the display name, else the address)."""
    shown, addr = parseaddr(address)
    value = vCalAddress(f"mailto:{addr or address}")
    value.params["CN"] = vText(name or shown or addr or address)
    return value


def _zone(name: object) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def call_invite(
    touch: DispatchTouch, message: RenderedMessage, organizer: str, domain: str, now: datetime
) -> bytes:
    v = touch.variables
    rep = v.get("rep") if isinstance(v.get("rep"), Mapping) else {}
    assert isinstance(rep, Mapping)
    raw_start = v.get("call_at")
    start = datetime.fromisoformat(raw_start) if isinstance(raw_start, str) else now
    if zone := _zone(rep.get("timezone")):
        start = start.astimezone(zone)
    minutes = int(v.get("call_minutes") or 15)
    cal = Calendar()
    cal.add("prodid", "-//Trellis//rep reminders//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "REQUEST")
    event = Event()
    event.add("uid", f"{touch.touch_id}@{domain}")
    event.add("sequence", 0)
    event.add("dtstamp", now)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", message.subject)
    event.add("description", message.text)
    event.add("status", "CONFIRMED")
    if isinstance(v.get("contact_url"), str):
        event.add("url", v["contact_url"])
    event.add("organizer", calendar_address(organizer))
    attendee = calendar_address(touch.to, str(rep.get("name") or "") or None)
    attendee.params["ROLE"] = vText("REQ-PARTICIPANT")
    attendee.params["PARTSTAT"] = vText("NEEDS-ACTION")
    attendee.params["RSVP"] = vText("TRUE")
    event.add("attendee", attendee)
    cal.add_component(event)
    cal.add_missing_timezones()
    ical: bytes = cal.to_ical()
    return ical
