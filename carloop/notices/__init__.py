"""One notice system: every message to a buyer or owner (a kind, a recipient, a bilingual body),
kept in the app's inbox and sent on the channels its kind deserves (SMS, e-mail) through the outbox."""
