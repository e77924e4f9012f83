"""Appointments at outlets: test drives, deliveries and after-sales service, on slot calendars."""
